import type { Command } from "commander";
import { findKind, resolveKindName, type KindInfo } from "../../core/config/resource.ts";
import { ServerError, UsageError } from "../cli-errors.ts";
import type { ControlClient } from "../client.ts";
import type { CliContext } from "../context.ts";
import { parseManifestSources } from "../manifest-documents.ts";
import { readManifestSources } from "../manifest-sources.ts";
import { itemPath, resolveKindArg, typeName } from "../resource-paths.ts";
import { isRecord, stringAt } from "../response-shape.ts";

interface DeleteOptions {
  filename?: string[];
  recursive?: boolean;
  namespace?: string;
  ignoreNotFound?: boolean;
}

interface DeleteTarget {
  info: KindInfo;
  namespace: string;
  name: string;
}

/** `strait delete KIND NAME` or `strait delete -f FILE`. */
export function registerDelete(program: Command, ctx: CliContext): void {
  program
    .command("delete")
    .description("delete a resource by kind and name, or every resource named in files")
    .argument("[kind]", "kind, plural or short name")
    .argument("[name]", "resource name")
    .option("-f, --filename <path...>", "delete the resources these files describe")
    .option("-R, --recursive", "descend into subdirectories of a directory given with -f")
    .option("-n, --namespace <ns>", "namespace (default: the document's, else default)")
    .option("--ignore-not-found", "treat a resource that does not exist as deleted")
    .action(async (kindArg: string | undefined, name: string | undefined, opts: DeleteOptions, cmd: Command) => {
      const targets = await deleteTargets(ctx, kindArg, name, opts);
      const client = ctx.client(cmd);
      for (const t of targets) {
        const outcome = await deleteOne(client, t, opts.ignoreNotFound ?? false);
        if (outcome instanceof ServerError) {
          ctx.fail();
          ctx.io.err(`Error from server (${outcome.code}): ${outcome.message}\n`);
        } else {
          ctx.io.out(`${typeName(t.info)} "${t.name}" ${outcome}\n`);
        }
      }
    });
}

async function deleteTargets(ctx: CliContext, kindArg: string | undefined, name: string | undefined, opts: DeleteOptions): Promise<DeleteTarget[]> {
  if (opts.filename !== undefined) {
    if (kindArg !== undefined) throw new UsageError("KIND: give either KIND NAME or -f, not both", { field: "KIND" });
    const docs = parseManifestSources(await readManifestSources(opts.filename, { readStdin: ctx.io.readStdin, recursive: opts.recursive ?? false }));
    return docs.map((d) => {
      const where = `${d.source} document ${d.index}`;
      const kind = stringAt(d.doc, "kind");
      const apiVersion = stringAt(d.doc, "apiVersion");
      const info = kind === undefined ? undefined : apiVersion === undefined ? resolveKindName(kind) : findKind(apiVersion, kind);
      if (info === undefined) throw new UsageError(`${where}: kind: unknown kind ${JSON.stringify(kind ?? "")} for apiVersion ${JSON.stringify(apiVersion ?? "")}`, { field: "kind" });
      const metadata = isRecord(d.doc) ? d.doc.metadata : undefined;
      const docName = stringAt(metadata, "name");
      if (docName === undefined || docName === "") throw new UsageError(`${where}: metadata.name: required to delete a resource`, { field: "metadata.name" });
      return { info, name: docName, namespace: stringAt(metadata, "namespace") ?? opts.namespace ?? "default" };
    });
  }
  if (kindArg === undefined) throw new UsageError("KIND: give KIND NAME or -f FILE", { field: "KIND" });
  const info = resolveKindArg(kindArg);
  if (name === undefined) throw new UsageError("NAME: required (deleting every resource of a kind is not supported)", { field: "NAME" });
  return [{ info, name, namespace: opts.namespace ?? "default" }];
}

/** "deleted", "not found (ignored)", or the server's refusal (other errors propagate). */
async function deleteOne(client: ControlClient, t: DeleteTarget, ignoreNotFound: boolean): Promise<string | ServerError> {
  try {
    await client.request("DELETE", itemPath(t.info, t.namespace, t.name));
    return "deleted";
  } catch (err) {
    if (!(err instanceof ServerError) || err.status === 401 || err.status === 403) throw err;
    if (err.status === 404 && ignoreNotFound) return "not found (ignored)";
    return err;
  }
}
