import type { Command } from "commander";
import type { CliContext } from "../context.ts";
import { formatAge, outputFormat, outputOption, renderStructured, renderTable } from "../output.ts";
import { arrayAt, stringAt } from "../response-shape.ts";

/**
 * `strait node list` and `strait node evict` (admin): the attested nodes, and SPIRE's
 * `agent evict` — the node must attest again, and its snapshot target is taken down unless
 * WorkloadEntries are still placed on it.
 */
export function registerNode(program: Command, ctx: CliContext): void {
  const node = program.command("node").description("list and evict attested nodes (needs the admin token)");
  node
    .command("list")
    .description("list attested nodes: SPIFFE ID, how each attested, when last seen, whether revoked")
    .addOption(outputOption(["json", "yaml"]))
    .action(async (opts: { output?: string }, cmd: Command) => {
      const body = await ctx.client(cmd).request("GET", "/v1/identity/nodes");
      const format = outputFormat(opts);
      if (format === "json" || format === "yaml") {
        ctx.io.out(renderStructured(body, format));
        return;
      }
      const nodes = arrayAt(body, "nodes");
      if (nodes.length === 0) {
        ctx.io.err("No nodes found\n");
        return;
      }
      const now = ctx.io.now();
      const rows = nodes.map((n) => [
        stringAt(n, "spiffeId") ?? "",
        stringAt(n, "attestationType") ?? "",
        `${formatAge(stringAt(n, "attestedAt"), now)} ago`,
        `${formatAge(stringAt(n, "lastSeenAt"), now)} ago`,
        stringAt(n, "revokedAt") ?? "<none>",
      ]);
      ctx.io.out(renderTable(["SPIFFE ID", "ATTESTATION", "ATTESTED", "LAST SEEN", "REVOKED"], rows));
    });
  node
    .command("evict")
    .description("evict an attested node: its credentials stop working for node calls until it attests again (its SVIDs are not revoked; they expire)")
    .argument("<spiffe-id>", "the node's SPIFFE ID, spiffe://<trust-domain>/node/<cluster>/<node>")
    .action(async (spiffeId: string, _opts: unknown, cmd: Command) => {
      ctx.flagsForFields({ spiffeId: "<spiffe-id>" });
      await ctx.client(cmd).request("DELETE", "/v1/identity/nodes", { query: { spiffeId } });
      ctx.io.out(`node ${spiffeId} evicted\n`);
    });
}
