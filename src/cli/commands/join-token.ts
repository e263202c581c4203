import type { Command } from "commander";
import type { CliContext } from "../context.ts";
import { parseDurationWithin } from "../duration.ts";
import { JOIN_TOKEN_TTL, formatSeconds } from "../limits.ts";
import { formatTime, outputFormat, outputOption, renderStructured } from "../output.ts";
import { isRecord, stringAt } from "../response-shape.ts";

/** `strait join-token create`: one-time tokens a node proxy attests with (admin only). */
export function registerJoinToken(program: Command, ctx: CliContext): void {
  const joinToken = program.command("join-token").description("manage node join tokens (needs the admin token)");
  joinToken
    .command("create")
    .description("create a one-time join token for a node; prints only the token on stdout")
    .requiredOption("--cluster <cluster>", "cluster the node belongs to")
    .requiredOption("--node <node>", "node name")
    .option("--ttl <duration>", `how long the token stays usable, e.g. 10m (max ${formatSeconds(JOIN_TOKEN_TTL.maxSeconds)})`, formatSeconds(JOIN_TOKEN_TTL.defaultSeconds))
    .addOption(outputOption(["json", "yaml"]))
    .action(async (opts: { cluster: string; node: string; ttl: string; output?: string }, cmd: Command) => {
      ctx.flagsForFields({ ttlSeconds: "--ttl", cluster: "--cluster", node: "--node" });
      const ttlSeconds = parseDurationWithin(opts.ttl, "--ttl", JOIN_TOKEN_TTL, formatSeconds);
      const body = await ctx.client(cmd).request("POST", "/v1/identity/join-tokens", { json: { cluster: opts.cluster, node: opts.node, ttlSeconds } });
      const format = outputFormat(opts);
      if (format === "json" || format === "yaml") {
        ctx.io.out(renderStructured(body, format));
        return;
      }
      ctx.io.err(`join token for ${stringAt(body, "spiffeId") ?? `${opts.cluster}/${opts.node}`}, expires ${formatTime(isRecord(body) ? body.expiresAt : undefined)}\n`);
      ctx.io.out(`${stringAt(body, "token") ?? ""}\n`);
    });
}
