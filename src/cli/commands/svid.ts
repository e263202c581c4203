import type { Command } from "commander";
import { readFile } from "node:fs/promises";
import type { X509SvidInfo } from "../../identity/x509-svid.ts";
import { UsageError } from "../cli-errors.ts";
import type { CliContext } from "../context.ts";
import { formatAge, outputFormat, outputOption, renderStructured } from "../output.ts";

/** `strait svid inspect FILE`: offline description of every certificate in a PEM file. */
export function registerSvid(program: Command, ctx: CliContext): void {
  const svid = program.command("svid").description("work with X.509-SVIDs");
  svid
    .command("inspect")
    .description("describe every certificate in a PEM file (offline): SPIFFE ID, serial, validity, issuer, key, key usage")
    .argument("<file>", "PEM file, or - for stdin")
    .addOption(outputOption(["json", "yaml"]))
    .action(async (file: string, opts: { output?: string }) => {
      const pem = file === "-" ? await ctx.io.readStdin() : await readFile(file, "utf8").catch(() => {
        throw new UsageError(`FILE: cannot read ${JSON.stringify(file)}`, { field: "FILE" });
      });
      // Loaded on demand so commands that never touch certificates skip the X.509 stack.
      const { inspectCertificates } = await import("../../identity/x509-svid.ts");
      const certs = await inspectCertificates(pem);
      const format = outputFormat(opts);
      if (format === "json" || format === "yaml") {
        ctx.io.out(renderStructured(certs, format));
        return;
      }
      ctx.io.out(certs.map((c, i) => describeCertificate(c, i, certs.length, ctx.io.now())).join("\n"));
    });
}

function describeCertificate(c: X509SvidInfo, i: number, total: number, now: number): string {
  const notAfter = Date.parse(c.notAfter);
  const notBefore = Date.parse(c.notBefore);
  const validity =
    now < notBefore ? "NOT YET VALID" : now >= notAfter ? `EXPIRED ${formatAge(notAfter, now)} ago` : `valid, expires in ${formatAge(now, notAfter)}`;
  const role = c.isCa ? "CA" : c.spiffeId === null ? "certificate (no SPIFFE ID)" : "X.509-SVID";
  const list = (v: readonly string[]): string => (v.length === 0 ? "<none>" : v.join(", "));
  const lines = [
    `Certificate ${i + 1} of ${total}: ${role}`,
    `  SPIFFE ID:       ${c.spiffeId ?? "<none>"}`,
    `  Serial:          ${c.serial}`,
    `  Subject:         ${c.subject === "" ? "<empty>" : c.subject}`,
    `  Issuer:          ${c.issuer}`,
    `  Not Before:      ${c.notBefore}`,
    `  Not After:       ${c.notAfter} (${validity})`,
    `  Key:             ${c.keyAlgorithm}`,
    `  CA:              ${c.isCa ? "true" : "false"}`,
    `  Key Usage:       ${list(c.keyUsage)}`,
    `  Ext Key Usage:   ${list(c.extKeyUsage)}`,
    `  URI SANs:        ${list(c.uris)}`,
    `  DNS SANs:        ${list(c.dnsNames)}`,
    `  SHA-256:         ${c.sha256Fingerprint}`,
  ];
  return `${lines.join("\n")}\n`;
}
