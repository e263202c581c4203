import { Option, type Command } from "commander";
import type { CliContext } from "../context.ts";
import { parseDurationWithin } from "../duration.ts";
import { API_TOKEN_TTL, formatSeconds } from "../limits.ts";
import { formatTime, outputFormat, outputOption, renderStructured, renderTable } from "../output.ts";
import { arrayAt, isRecord, stringAt } from "../response-shape.ts";

interface CreateOptions {
  subject: string;
  namespace: string[];
  access: "read" | "write";
  ttl?: string;
  output?: string;
}

/** `strait token create|list|revoke`: scoped API tokens (admin only). */
export function registerToken(program: Command, ctx: CliContext): void {
  const token = program.command("token").description("manage scoped API tokens (needs the admin token)");

  token
    .command("create")
    .description("create a scoped API token; prints only the token on stdout, so TOKEN=$(strait token create ...) works")
    .requiredOption("--subject <subject>", "who the token is for (recorded in the audit log)")
    .requiredOption("-n, --namespace <ns...>", "namespaces the token may touch (* = all)")
    .addOption(new Option("--access <access>", "read, or write (implies read)").choices(["read", "write"]).makeOptionMandatory())
    .option("--ttl <duration>", `lifetime, e.g. 1h, 24h, 7d (default ${formatSeconds(API_TOKEN_TTL.defaultSeconds)}, min ${formatSeconds(API_TOKEN_TTL.minSeconds)}, max ${formatSeconds(API_TOKEN_TTL.maxSeconds)})`)
    .addOption(outputOption(["json", "yaml"]))
    .action(async (opts: CreateOptions, cmd: Command) => {
      ctx.flagsForFields({ ttlSeconds: "--ttl", namespaces: "-n/--namespace", subject: "--subject", access: "--access" });
      const ttlSeconds = opts.ttl === undefined ? undefined : parseDurationWithin(opts.ttl, "--ttl", API_TOKEN_TTL, formatSeconds);
      const body = await ctx.client(cmd).request("POST", "/v1/tokens", {
        json: { subject: opts.subject, namespaces: opts.namespace, access: opts.access, ...(ttlSeconds === undefined ? {} : { ttlSeconds }) },
      });
      const format = outputFormat(opts);
      if (format === "json" || format === "yaml") {
        ctx.io.out(renderStructured(body, format));
        return;
      }
      ctx.io.err(`token ${stringAt(body, "id") ?? ""} created for ${opts.subject} (${opts.access} on ${opts.namespace.join(",")}), expires ${formatTime(isRecord(body) ? body.expiresAt : undefined)}\n`);
      ctx.io.out(`${stringAt(body, "token") ?? ""}\n`);
    });

  token
    .command("list")
    .description("list API tokens")
    .addOption(outputOption(["json", "yaml"]))
    .action(async (opts: { output?: string }, cmd: Command) => {
      const body = await ctx.client(cmd).request("GET", "/v1/tokens");
      const format = outputFormat(opts);
      if (format === "json" || format === "yaml") {
        ctx.io.out(renderStructured(body, format));
        return;
      }
      const tokens = Array.isArray(body) ? body : arrayAt(body, "tokens");
      if (tokens.length === 0) {
        ctx.io.err("No tokens found\n");
        return;
      }
      ctx.io.out(
        renderTable(
          ["ID", "SUBJECT", "NAMESPACES", "ACCESS", "EXPIRES", "REVOKED"],
          tokens.map((t) => {
            const ns = isRecord(t) ? t.namespaces : undefined;
            return [
              stringAt(t, "id") ?? "",
              stringAt(t, "subject") ?? "",
              Array.isArray(ns) ? ns.map(String).join(",") : typeof ns === "string" ? ns : "",
              stringAt(t, "access") ?? "",
              formatTime(isRecord(t) ? t.expiresAt : undefined),
              formatTime(isRecord(t) ? t.revokedAt : undefined),
            ];
          }),
        ),
      );
    });

  token
    .command("revoke")
    .description("revoke an API token by id")
    .argument("<id>", "token id (from token create or token list)")
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      await ctx.client(cmd).request("DELETE", `/v1/tokens/${encodeURIComponent(id)}`);
      ctx.io.out(`token ${id} revoked\n`);
    });
}
