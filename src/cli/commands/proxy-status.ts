import type { Command } from "commander";
import { SpiffeId, parseNodeId } from "../../identity/spiffe-id.ts";
import type { CliContext } from "../context.ts";
import { formatAge, outputFormat, outputOption, renderStructured, renderTable } from "../output.ts";
import { arrayAt, isRecord, numberAt, stringAt } from "../response-shape.ts";

/** `strait proxy-status` (`ps`): which config version each node proxy applied, like `istioctl proxy-status`. */
export function registerProxyStatus(program: Command, ctx: CliContext): void {
  program
    .command("proxy-status")
    .alias("ps")
    .description("show which config snapshot version each node proxy runs (VERSION), the latest published for it (LATEST) and the sync state (SYNCED, STALE, NOT SENT)")
    .addOption(outputOption(["json", "yaml", "wide"]))
    .action(async (opts: { output?: string }, cmd: Command) => {
      const body = await ctx.client(cmd).request("GET", "/v1/proxies/status");
      const format = outputFormat(opts);
      if (format === "json" || format === "yaml") {
        ctx.io.out(renderStructured(body, format));
        return;
      }
      const proxies = arrayAt(body, "proxies").map(proxyRow);
      // A failed publish is never silent: name every target the control plane could not publish.
      const failing = arrayAt(isRecord(body) ? body.publish : undefined, "failing");
      for (const f of failing) ctx.io.err(`publish failing for ${stringAt(f, "target") ?? "?"}: ${stringAt(f, "error") ?? ""}\n`);
      if (proxies.length === 0) {
        ctx.io.err("No proxies found\n");
        return;
      }
      proxies.sort((a, b) => `${a.cluster}/${a.name}`.localeCompare(`${b.cluster}/${b.name}`));
      const now = ctx.io.now();
      const wide = format === "wide";
      // VERSION: the snapshot version the proxy reported running; LATEST: the one the control plane published for it.
      const headers = ["NAME", "CLUSTER", "VERSION", "STATUS", "LATEST", ...(wide ? ["REPORTED", "SPIFFE ID"] : [])];
      ctx.io.out(
        renderTable(
          headers,
          proxies.map((p) => [p.name, p.cluster, p.version, p.publish === "FAILED" ? `${p.status} (PUBLISH FAILED)` : p.status, p.latest, ...(wide ? [p.reportedAt === undefined ? "" : `${formatAge(p.reportedAt, now)} ago`, p.spiffeId] : [])]),
        ),
      );
    });
}

interface ProxyRow {
  name: string;
  cluster: string;
  version: string;
  latest: string;
  status: string;
  publish: string;
  spiffeId: string;
  reportedAt: number | undefined;
}

function proxyRow(p: unknown): ProxyRow {
  const spiffeId = stringAt(p, "spiffeId") ?? "";
  const placement = nodePlacement(spiffeId);
  const node = stringAt(p, "node") ?? placement?.node ?? "";
  const reported = isRecord(p) ? p.reportedAt : undefined;
  return {
    name: placement?.node ?? node,
    cluster: stringAt(p, "cluster") ?? placement?.cluster ?? "",
    version: String(numberAt(p, "appliedVersion") ?? ""),
    latest: String(numberAt(p, "latestVersion") ?? ""),
    status: stringAt(p, "status") ?? "",
    publish: stringAt(p, "publish") ?? "",
    spiffeId,
    reportedAt: typeof reported === "number" ? reported : typeof reported === "string" ? Date.parse(reported) : undefined,
  };
}

function nodePlacement(spiffeId: string): { cluster: string; node: string } | undefined {
  try {
    return parseNodeId(SpiffeId.parse(spiffeId));
  } catch {
    return undefined;
  }
}
