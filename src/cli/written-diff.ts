import type { ApplyResult } from "./apply-request.ts";
import type { ManifestDocument } from "./manifest-documents.ts";
import { isRecord, stringAt } from "./response-shape.ts";

/** Server-owned metadata a file copied from `get -o yaml` may carry; never part of what the user changes. */
const SERVER_METADATA = new Set(["resourceVersion", "generation", "creationTimestamp", "uid", "managedFields", "selfLink"]);

/**
 * The server's dry-run diff of `r`, keeping only what the user wrote in the
 * document it came from: fields the server fills in (defaults, empty
 * `labels`/`annotations`) and server-owned metadata (resourceVersion,
 * generation, creationTimestamp, uid) are not shown. Removals stay: apply
 * replaces the whole resource, so a field dropped from the file is a real change.
 */
export function writtenDiff(r: ApplyResult, docs: readonly ManifestDocument[], namespace: string | undefined): unknown {
  const doc = docs.find((d) => {
    const md = isRecord(d.doc) ? d.doc.metadata : undefined;
    return stringAt(d.doc, "kind") === r.kind && stringAt(md, "name") === r.name && (stringAt(md, "namespace") ?? namespace ?? "default") === r.namespace;
  })?.doc;
  if (doc === undefined || !Array.isArray(r.diff)) return r.diff;
  return r.diff.flatMap((e): unknown[] => {
    if (!isRecord(e) || typeof e.path !== "string") return [e];
    const path = parsePath(e.path, doc);
    if (path.length >= 2 && path[0] === "metadata" && typeof path[1] === "string" && SERVER_METADATA.has(path[1])) return [];
    const written = path.length === 0 ? doc : valueAt(doc, path);
    const op = stringAt(e, "op");
    if (op === "remove") return isEmpty(e.before) ? [] : [e];
    if (written === undefined) return [];
    const after = prune(e.after, written, path);
    return after === undefined ? [] : [{ ...e, after }];
  });
}

type Segment = string | number;

/**
 * Splits `metadata.labels.app.kubernetes.io/name` or `spec.http[1].route[0]` into
 * segments, matching object keys that contain dots against the document (longest first).
 */
function parsePath(path: string, doc: unknown): Segment[] {
  if (path === "." || path === "") return [];
  const out: Segment[] = [];
  let rest = path;
  let node: unknown = doc;
  while (rest !== "") {
    const index = /^\[(\d+)\]/.exec(rest);
    if (index !== null) {
      const i = Number(index[1]);
      out.push(i);
      node = Array.isArray(node) ? node[i] : undefined;
      rest = rest.slice(index[0].length).replace(/^\./, "");
      continue;
    }
    const keys = isRecord(node) ? Object.keys(node).filter((k) => rest === k || rest.startsWith(`${k}.`) || rest.startsWith(`${k}[`)) : [];
    const key = keys.sort((a, b) => b.length - a.length)[0] ?? /^[^.[]+/.exec(rest)?.[0] ?? rest;
    out.push(key);
    node = isRecord(node) ? node[key] : undefined;
    rest = rest.slice(key.length).replace(/^\./, "");
  }
  return out;
}

function valueAt(v: unknown, path: readonly Segment[]): unknown {
  let node = v;
  for (const s of path) {
    if (typeof s === "number") node = Array.isArray(node) ? node[s] : undefined;
    else node = isRecord(node) ? node[s] : undefined;
    if (node === undefined) return undefined;
  }
  return node;
}

/** `value` cut down to the members `written` has (recursively); undefined if nothing of it was written. */
function prune(value: unknown, written: unknown, path: readonly Segment[]): unknown {
  if (isRecord(value) && isRecord(written)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (written[k] === undefined) continue;
      if (path.length === 0 && k === "metadata") {
        const md = prune(v, written[k], ["metadata"]);
        if (md !== undefined) out[k] = md;
        continue;
      }
      if (path.length === 1 && path[0] === "metadata" && SERVER_METADATA.has(k)) continue;
      const p = prune(v, written[k], [...path, k]);
      if (p !== undefined) out[k] = p;
    }
    return Object.keys(out).length === 0 && Object.keys(value).length > 0 ? undefined : out;
  }
  if (Array.isArray(value) && Array.isArray(written)) return value.map((v, i) => (i < written.length ? (prune(v, written[i], [...path, i]) ?? v) : v));
  return value;
}

function isEmpty(v: unknown): boolean {
  return v === undefined || v === null || (Array.isArray(v) && v.length === 0) || (isRecord(v) && Object.keys(v).length === 0);
}
