import type { Command } from "commander";
import { formatPublish, formatResult, postApply, resultRef } from "../apply-request.ts";
import { parseDurationSeconds } from "../duration.ts";
import type { CliContext } from "../context.ts";
import { renderDiff } from "../diff-render.ts";
import { writtenDiff } from "../written-diff.ts";
import { parseManifestSources } from "../manifest-documents.ts";
import { readManifestSources } from "../manifest-sources.ts";
import { outputFormat, outputOption, renderStructured } from "../output.ts";

interface ManifestOptions {
  filename: string[];
  recursive?: boolean;
  namespace?: string;
  output?: string;
}

/** `strait apply -f` and `strait diff -f`, both backed by `POST /v1/apply`. */
export function registerApply(program: Command, ctx: CliContext): void {
  program
    .command("apply")
    .description("create or update resources from files, as one revision (all or nothing)")
    .requiredOption("-f, --filename <path...>", "file, directory or - (stdin)")
    .option("-R, --recursive", "descend into subdirectories of a directory given with -f")
    .option("-n, --namespace <ns>", "namespace for documents without metadata.namespace")
    .option("--dry-run", "ask the server what would change without writing")
    .option("--wait [duration]", "wait until the revision is published to every proxy target (default 30s; the server caps it at PUBLISH_WAIT_MAX_SECONDS, 120s unless its admin changed it); exit 1 if it failed or did not finish")
    .addOption(outputOption(["json", "yaml"]))
    .addHelpText("after", "\nExamples:\n  strait apply -f deploy/samples/bookinfo.yaml\n  strait apply --wait=60s -R -f deploy/samples/\n  cat test/cli/fixtures/bookinfo/3-virtual-service.yaml | strait apply -f -")
    .action(async (opts: ManifestOptions & { dryRun?: boolean; wait?: string | boolean }, cmd: Command) => {
      const waitSeconds = opts.wait === undefined || opts.wait === false ? undefined : opts.wait === true ? 30 : parseDurationSeconds(opts.wait, "--wait");
      const docs = parseManifestSources(await readManifestSources(opts.filename, { readStdin: ctx.io.readStdin, recursive: opts.recursive ?? false }));
      const outcome = await postApply(ctx.client(cmd), docs, { dryRun: opts.dryRun ?? false, namespace: opts.namespace, waitSeconds });
      if (waitSeconds !== undefined && outcome.publish !== undefined && outcome.publish.state !== "Published") ctx.fail();
      const format = outputFormat(opts);
      if (format === "json" || format === "yaml") {
        ctx.io.out(renderStructured(outcome.raw, format));
        return;
      }
      const suffix = opts.dryRun === true ? " (server dry run)" : "";
      ctx.io.out(outcome.results.map((r) => `${formatResult(r, suffix)}\n`).join(""));
      if (waitSeconds !== undefined && outcome.publish !== undefined) {
        const lines = formatPublish(outcome.publish, waitSeconds);
        if (outcome.publish.state === "Published") ctx.io.out(`${lines.join("\n")}\n`);
        else ctx.io.err(`${lines.join("\n")}\n`);
      }
    });

  program
    .command("diff")
    .description("show what apply would change (server dry run); exit 0 if nothing, 1 if something would change")
    .requiredOption("-f, --filename <path...>", "file, directory or - (stdin)")
    .addHelpText("after", "\nExample:\n  strait diff -f deploy/samples/bookinfo.yaml || echo 'applying it would change the mesh'\n\nOnly fields written in the files are shown: server defaults and server-owned\nmetadata (resourceVersion, generation, creationTimestamp, uid) are left out.")
    .option("-R, --recursive", "descend into subdirectories of a directory given with -f")
    .option("-n, --namespace <ns>", "namespace for documents without metadata.namespace")
    .addOption(outputOption(["json", "yaml"]))
    .action(async (opts: ManifestOptions, cmd: Command) => {
      const docs = parseManifestSources(await readManifestSources(opts.filename, { readStdin: ctx.io.readStdin, recursive: opts.recursive ?? false }));
      const outcome = await postApply(ctx.client(cmd), docs, { dryRun: true, namespace: opts.namespace });
      const changed = outcome.results.filter((r) => r.action !== "unchanged");
      if (changed.length > 0) ctx.fail();
      const format = outputFormat(opts);
      if (format === "json" || format === "yaml") {
        ctx.io.out(renderStructured(outcome.raw, format));
        return;
      }
      const lines: string[] = [];
      for (const r of changed) {
        lines.push(`${resultRef(r)} (namespace ${r.namespace}) would be ${r.action}`);
        lines.push(...renderDiff(writtenDiff(r, docs, opts.namespace)));
      }
      if (changed.length === 0) lines.push(`no changes: ${outcome.results.length} resource(s) unchanged`);
      ctx.io.out(`${lines.join("\n")}\n`);
    });
}
