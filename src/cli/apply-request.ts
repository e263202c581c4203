import { stringify as toYaml } from "yaml";
import { ServerError, UsageError } from "./cli-errors.ts";
import type { ControlClient } from "./client.ts";
import type { ManifestDocument } from "./manifest-documents.ts";
import { infoForKind, resourceRef } from "./resource-paths.ts";
import { arrayAt, isRecord, numberAt, stringAt } from "./response-shape.ts";

/** One per-document outcome of `POST /v1/apply`. */
export interface ApplyResult {
  kind: string;
  namespace: string;
  name: string;
  action: string;
  resourceVersion?: string;
  /** Field-level diff (dry run only); its shape is the server's. */
  diff?: unknown;
}

/** With `--wait`: whether the revision reached every publish target in time. */
export interface PublishOutcome {
  state: "Published" | "Failed" | "Pending";
  revision: number;
  failed: { target: string; error: string }[];
}

export interface ApplyOutcome {
  /** The server's answer, unchanged, for `-o json|yaml`. */
  raw: unknown;
  revision: number | undefined;
  results: ApplyResult[];
  publish?: PublishOutcome;
}

/**
 * Sends documents to `POST /v1/apply` as one multi-document YAML body (one
 * revision, all-or-nothing). With `namespace`, documents without
 * `metadata.namespace` get it, and documents naming another namespace are refused.
 * Server errors naming `documents[i]` are rewritten to name the file and document.
 */
export async function postApply(
  client: ControlClient,
  docs: readonly ManifestDocument[],
  o: { dryRun: boolean; namespace?: string | undefined; waitSeconds?: number | undefined },
): Promise<ApplyOutcome> {
  if (docs.length === 0) throw new UsageError("-f: the files contain no documents", { field: "-f" });
  const body = docs.map((d) => toYaml(withNamespace(d, o.namespace), { lineWidth: 0 })).join("---\n");
  let raw: unknown;
  try {
    raw = await client.request("POST", "/v1/apply", {
      text: body,
      contentType: "application/yaml",
      query: { dryRun: o.dryRun ? "true" : undefined, wait: o.waitSeconds === undefined || o.dryRun ? undefined : String(o.waitSeconds) },
    });
  } catch (err) {
    throw err instanceof ServerError ? relabelDocuments(err, docs) : err;
  }
  const publish = isRecord(raw) ? toPublish(raw.publish) : undefined;
  return { raw, revision: numberAt(raw, "revision"), results: arrayAt(raw, "results").map(toResult), ...(publish === undefined ? {} : { publish }) };
}

function toPublish(v: unknown): PublishOutcome | undefined {
  const state = stringAt(v, "state");
  if (state !== "Published" && state !== "Failed" && state !== "Pending") return undefined;
  return {
    state,
    revision: numberAt(v, "revision") ?? 0,
    failed: arrayAt(v, "failed").map((f) => ({ target: stringAt(f, "target") ?? "", error: stringAt(f, "error") ?? "" })),
  };
}

/** One line per outcome of `--wait`, like `kubectl rollout status`. */
export function formatPublish(p: PublishOutcome, waitSeconds: number): string[] {
  if (p.state === "Published") return [`revision ${p.revision} published to every proxy target`];
  if (p.state === "Pending") return [`revision ${p.revision} not published within ${waitSeconds}s (see strait proxy-status)`];
  return [`revision ${p.revision} failed to publish:`, ...p.failed.map((f) => `  ${f.target}: ${f.error}`)];
}

/** `virtualservice.networking.istio.io/reviews created`, as kubectl prints it. */
export function formatResult(r: ApplyResult, suffix = ""): string {
  return `${resultRef(r)} ${r.action}${suffix}`;
}

/** `virtualservice.networking.istio.io/reviews` for a result. */
export function resultRef(r: ApplyResult): string {
  const info = infoForKind(r.kind);
  return info === undefined ? `${r.kind.toLowerCase()}/${r.name}` : resourceRef(info, r.name);
}

function withNamespace(d: ManifestDocument, namespace: string | undefined): unknown {
  if (namespace === undefined || !isRecord(d.doc)) return d.doc;
  const metadata = isRecord(d.doc.metadata) ? d.doc.metadata : {};
  const own = stringAt(metadata, "namespace");
  if (own !== undefined && own !== namespace) {
    throw new UsageError(
      `${d.source} document ${d.index}: metadata.namespace is ${JSON.stringify(own)} but -n/--namespace is ${JSON.stringify(namespace)}`,
      { field: "metadata.namespace" },
    );
  }
  return { ...d.doc, metadata: { ...metadata, namespace } };
}

function toResult(v: unknown): ApplyResult {
  const rv = isRecord(v) ? v.resourceVersion : undefined;
  return {
    kind: stringAt(v, "kind") ?? "",
    namespace: stringAt(v, "namespace") ?? "",
    name: stringAt(v, "name") ?? "",
    action: stringAt(v, "action") ?? "",
    ...(typeof rv === "string" || typeof rv === "number" ? { resourceVersion: String(rv) } : {}),
    ...(isRecord(v) && v.diff !== undefined ? { diff: v.diff } : {}),
  };
}

const DOCUMENT_PREFIX = /documents\[(\d+)\]\.?/g;

/** Rewrites `documents[3].spec.x` (an index into the combined body) to `file.yaml document 1: spec.x`. */
function relabelDocuments(err: ServerError, docs: readonly ManifestDocument[]): ServerError {
  const relabel = (text: string): string =>
    text.replace(DOCUMENT_PREFIX, (whole, i: string) => {
      const d = docs[Number(i)];
      return d === undefined ? whole : `${d.source} document ${d.index}: `;
    });
  return new ServerError(err.status, {
    code: err.code,
    message: relabel(err.message),
    ...(err.field === undefined ? {} : { field: relabel(err.field) }),
    details: err.details.map((d) => ({ path: relabel(d.path).replace(/: $/, ""), message: d.message })),
  });
}
