import type { Command } from "commander";
import { formatResult, type ApplyResult } from "../apply-request.ts";
import { UsageError } from "../cli-errors.ts";
import type { CliContext } from "../context.ts";
import { formatTime, outputFormat, outputOption, renderStructured, renderTable } from "../output.ts";
import { infoForKind, typeName } from "../resource-paths.ts";
import { arrayAt, isRecord, numberAt, stringAt } from "../response-shape.ts";

/** `strait history [REVISION]` and `strait rollback REVISION`. */
export function registerHistory(program: Command, ctx: CliContext): void {
  program
    .command("history")
    .description("list config revisions (newest first), or show the changes of one revision")
    .argument("[revision]", "a revision number")
    .option("--limit <n>", "at most this many revisions", "20")
    .addOption(outputOption(["json", "yaml"]))
    .action(async (revisionArg: string | undefined, opts: { limit: string; output?: string }, cmd: Command) => {
      const client = ctx.client(cmd);
      const format = outputFormat(opts);
      if (revisionArg !== undefined) {
        const body = await client.request("GET", `/v1/revisions/${revisionNumber(revisionArg)}`);
        ctx.io.out(format === "json" || format === "yaml" ? renderStructured(body, format) : renderRevision(body));
        return;
      }
      const limit = Number(opts.limit);
      if (!Number.isSafeInteger(limit) || limit < 1) throw new UsageError(`--limit: must be a positive integer, got ${JSON.stringify(opts.limit)}`, { field: "--limit" });
      const body = await client.request("GET", "/v1/revisions", { query: { limit: String(limit) } });
      if (format === "json" || format === "yaml") {
        ctx.io.out(renderStructured(body, format));
        return;
      }
      const revisions = Array.isArray(body) ? body : arrayAt(body, "revisions");
      if (revisions.length === 0) {
        ctx.io.err("No revisions yet\n");
        return;
      }
      ctx.io.out(
        renderTable(
          ["REVISION", "TIME", "ACTOR", "OPERATION", "CHANGES", "MESSAGE"],
          revisions.map((r) => [
            String(numberAt(r, "id") ?? numberAt(r, "revision") ?? ""),
            formatTime(isRecord(r) ? r.at : undefined),
            stringAt(r, "actor") ?? "",
            stringAt(r, "operation") ?? "",
            changeCount(r),
            stringAt(r, "message") ?? "",
          ]),
        ),
      );
    });

  program
    .command("rollback")
    .description("restore the whole config to its state right after REVISION (recorded as a new revision)")
    .argument("<revision>", "the revision to go back to")
    .addOption(outputOption(["json", "yaml"]))
    .action(async (revisionArg: string, opts: { output?: string }, cmd: Command) => {
      const revision = revisionNumber(revisionArg);
      const body = await ctx.client(cmd).request("POST", "/v1/rollback", { json: { revision } });
      const format = outputFormat(opts);
      if (format === "json" || format === "yaml") {
        ctx.io.out(renderStructured(body, format));
        return;
      }
      const created = numberAt(body, "revision");
      const results = arrayAt(body, "results").map(resultOf).filter((r) => r.action !== "unchanged");
      ctx.io.out(
        `rolled back to revision ${revision}${created === undefined || created === revision ? "" : ` (new revision ${created})`}\n` +
          results.map((r) => `${formatResult(r)}\n`).join(""),
      );
    });
}

function revisionNumber(text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) throw new UsageError(`REVISION: must be a positive integer, got ${JSON.stringify(text)}`, { field: "REVISION" });
  return n;
}

function changeCount(r: unknown): string {
  if (!isRecord(r)) return "";
  if (Array.isArray(r.changes)) return String(r.changes.length);
  const n = numberAt(r, "changes") ?? numberAt(r, "changeCount");
  return n === undefined ? "" : String(n);
}

function resultOf(v: unknown): ApplyResult {
  return {
    kind: stringAt(v, "kind") ?? "",
    namespace: stringAt(v, "namespace") ?? "",
    name: stringAt(v, "name") ?? "",
    action: stringAt(v, "action") ?? "",
  };
}

/** One revision: a header, then `created|updated|deleted <type> <ns>/<name>` per change. */
function renderRevision(body: unknown): string {
  const rev = isRecord(body) && isRecord(body.revision) ? body.revision : body;
  const changes = arrayAt(body, "changes").length > 0 ? arrayAt(body, "changes") : arrayAt(rev, "changes");
  const lines = [
    `Revision:   ${String(numberAt(rev, "id") ?? numberAt(rev, "revision") ?? "")}`,
    `Time:       ${formatTime(isRecord(rev) ? rev.at : undefined)}`,
    `Actor:      ${stringAt(rev, "actor") ?? ""}`,
    `Operation:  ${stringAt(rev, "operation") ?? ""}`,
    ...(stringAt(rev, "message") === undefined ? [] : [`Message:    ${stringAt(rev, "message")}`]),
    "Changes:",
    ...changes.map((c) => {
      const before = isRecord(c) ? c.before : undefined;
      const after = isRecord(c) ? c.after : undefined;
      const action = stringAt(c, "action") ?? (before === null || before === undefined ? "created" : after === null || after === undefined ? "deleted" : "configured");
      const kind = stringAt(c, "kind") ?? "";
      const info = infoForKind(kind);
      return `  ${action} ${info === undefined ? kind : typeName(info)} ${stringAt(c, "namespace") ?? ""}/${stringAt(c, "name") ?? ""}`;
    }),
  ];
  return `${lines.join("\n")}\n`;
}
