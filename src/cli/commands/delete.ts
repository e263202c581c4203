import type { Command } from "commander";
import { stringify as toYaml } from "yaml";
import { ServerError, UsageError } from "../cli-errors.ts";
import type { ControlClient } from "../client.ts";
import type { CliContext } from "../context.ts";
import { relabelDocumentPaths } from "../document-paths.ts";
import { parseManifestSources, type ManifestDocument } from "../manifest-documents.ts";
import { readManifestSources } from "../manifest-sources.ts";
import { infoForKind, resolveKindArg, typeName } from "../resource-paths.ts";
import { arrayAt, stringAt } from "../response-shape.ts";

interface DeleteOptions {
  filename?: string[];
  recursive?: boolean;
  namespace?: string;
  ignoreNotFound?: boolean;
  dryRun?: boolean;
}

/** `strait delete KIND NAME` or `strait delete -f FILE` (one revision, all or nothing). */
export function registerDelete(program: Command, ctx: CliContext): void {
  program
    .command("delete")
    .description("delete a resource by kind and name, or every resource named in files (one revision, all or nothing)")
    .argument("[kind]", "kind, plural, short name or kind.group (e.g. vs, virtualservices.networking.istio.io)")
    .argument("[name]", "resource name")
    .option("-f, --filename <path...>", "delete the resources these files describe (file, directory or -)")
    .option("-R, --recursive", "descend into subdirectories of a directory given with -f")
    .option("-n, --namespace <ns>", "namespace (default: the document's, else default)")
    .option("--ignore-not-found", "treat a resource that does not exist as deleted (else nothing is deleted and the command exits 1)")
    .option("--dry-run", "ask the server what would be deleted without deleting")
    .addHelpText("after", "\nExamples:\n  strait delete vs reviews -n default\n  strait delete -f test/cli/fixtures/bookinfo/\n  strait delete --ignore-not-found -f test/cli/fixtures/reviews-v2-default.yaml")
    .action(async (kindArg: string | undefined, name: string | undefined, opts: DeleteOptions, cmd: Command) => {
      const client = ctx.client(cmd);
      const suffix = opts.dryRun === true ? " (server dry run)" : "";
      if (opts.filename !== undefined) {
        if (kindArg !== undefined) throw new UsageError("KIND: give either KIND NAME or -f, not both", { field: "KIND" });
        const docs = parseManifestSources(await readManifestSources(opts.filename, { readStdin: ctx.io.readStdin, recursive: opts.recursive ?? false }));
        const results = await postDelete(client, docs, opts);
        ctx.io.out(results.map((r) => `${r.type} "${r.name}" ${r.action === "deleted" ? "deleted" : "not found (ignored)"}${suffix}\n`).join(""));
        return;
      }
      if (kindArg === undefined) throw new UsageError("KIND: give KIND NAME or -f FILE", { field: "KIND" });
      const info = resolveKindArg(kindArg);
      if (name === undefined) throw new UsageError("NAME: required (deleting every resource of a kind is not supported)", { field: "NAME" });
      const namespace = opts.namespace ?? "default";
      // Through the same endpoint as -f, so --dry-run and --ignore-not-found mean the same thing.
      const doc = { apiVersion: `${info.group}/${info.versions[0]}`, kind: info.kind, metadata: { name, namespace } };
      const results = await postDelete(client, [{ source: "", index: 0, doc }], { ...opts, namespace: undefined });
      ctx.io.out(results.map((r) => `${r.type} "${r.name}" ${r.action === "deleted" ? "deleted" : "not found (ignored)"}${suffix}\n`).join(""));
    });
}

interface DeleteResult {
  type: string;
  name: string;
  action: string;
}

/** `POST /v1/delete` with every document: one revision, or nothing deleted. */
async function postDelete(client: ControlClient, docs: readonly ManifestDocument[], opts: DeleteOptions): Promise<DeleteResult[]> {
  if (docs.length === 0) throw new UsageError("-f: the files contain no documents", { field: "-f" });
  const body = docs.map((d) => toYaml(d.doc, { lineWidth: 0 })).join("---\n");
  let raw: unknown;
  try {
    raw = await client.request("POST", "/v1/delete", {
      text: body,
      contentType: "application/yaml",
      query: {
        dryRun: opts.dryRun === true ? "true" : undefined,
        ignoreNotFound: opts.ignoreNotFound === true ? "true" : undefined,
        namespace: opts.namespace,
      },
    });
  } catch (err) {
    throw err instanceof ServerError ? relabelDocumentPaths(err, docs) : err;
  }
  return arrayAt(raw, "results").map((r) => {
    const kind = stringAt(r, "kind") ?? "";
    const info = infoForKind(kind);
    return { type: info === undefined ? kind.toLowerCase() : typeName(info), name: stringAt(r, "name") ?? "", action: stringAt(r, "action") ?? "" };
  });
}
