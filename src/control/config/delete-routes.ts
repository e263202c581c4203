import { isDns1123Label } from "../../core/config/validation/common.ts";
import { Hono } from "hono";
import type { ControlApp } from "../types.ts";
import { requireAccess } from "../auth.ts";
import { ForbiddenError, NotFoundError, UnauthenticatedError, ValidationError } from "../../core/errors.ts";
import { ConfigValidationError } from "../../core/config/errors.ts";
import type { FieldError } from "../../core/config/field-error.ts";
import { findKind, type KindInfo } from "../../core/config/resource.ts";
import { DEFAULT_NAMESPACE } from "../../core/config/validate.ts";
import { readConfigDocuments } from "./request-body.ts";
import { keyString, type ResourceKey, type StoredResource } from "./resource-record.ts";
import { getResources } from "./resource-queries.ts";
import type { ResourceChange } from "./resource-writer.ts";
import { db, landChanges, publishWaitMs, replanOnConflict } from "./land-changes.ts";

/** One or more documents of a delete name resources that do not exist (404, unless `ignoreNotFound=true`). */
export class ResourcesNotFoundError extends NotFoundError {
  readonly details: readonly FieldError[];

  constructor(missing: readonly FieldError[]) {
    const first = missing[0]!;
    super(`${first.path}: ${first.message}${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ""}; nothing was deleted`, { field: first.path });
    this.details = missing;
  }
}

/** Which resource a delete document names: only kind, apiVersion and metadata name/namespace are read, the spec is ignored. */
interface DeleteTarget extends ResourceKey {
  index: number;
  info: KindInfo;
  apiVersion: string;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

function targetsOf(docs: readonly unknown[], defaultNamespace: string): DeleteTarget[] {
  const errors: FieldError[] = [];
  const out: DeleteTarget[] = [];
  const seen = new Map<string, number>();
  docs.forEach((doc, index) => {
    const at = `documents[${index}]`;
    if (!isRecord(doc)) return void errors.push({ path: at, message: "must be an object" });
    const apiVersion = typeof doc.apiVersion === "string" ? doc.apiVersion : "";
    const kind = typeof doc.kind === "string" ? doc.kind : "";
    const info = findKind(apiVersion, kind);
    if (info === undefined) return void errors.push({ path: `${at}.kind`, message: `unknown kind ${JSON.stringify(kind)} for apiVersion ${JSON.stringify(apiVersion)}` });
    const metadata = isRecord(doc.metadata) ? doc.metadata : {};
    const name = metadata.name;
    if (typeof name !== "string" || !NAME.test(name)) return void errors.push({ path: `${at}.metadata.name`, message: "required: a DNS-1123 subdomain" });
    const ns = metadata.namespace;
    if (ns !== undefined && ns !== "" && (typeof ns !== "string" || !NAME.test(ns))) return void errors.push({ path: `${at}.metadata.namespace`, message: "must be a DNS-1123 label" });
    const namespace = typeof ns === "string" && ns !== "" ? ns : defaultNamespace;
    const key = keyString({ kind: info.kind, namespace, name });
    const first = seen.get(key);
    if (first !== undefined) return void errors.push({ path: `${at}.metadata.name`, message: `${key} is also documents[${first}]` });
    seen.set(key, index);
    out.push({ index, info, apiVersion, kind: info.kind, namespace, name });
  });
  if (errors.length > 0) throw new ConfigValidationError(errors);
  return out;
}

function booleanQuery(raw: string | undefined, field: string): boolean {
  if (raw === undefined || raw === "false") return false;
  if (raw === "true" || raw === "" || (field === "dryRun" && raw === "All")) return true;
  throw new ValidationError(`${field}: expected true or false, got ${raw}`, { field });
}

/**
 * `POST /v1/delete`: deletes every resource the documents name (same body formats as
 * `/v1/apply`), as one revision, all or nothing. A resource that does not exist fails the
 * whole request with 404 (every missing one listed in `details`) unless `?ignoreNotFound=true`;
 * `?dryRun=true` only reports. Scoped tokens need write access to every namespace named
 * (read access for a dry run).
 */
export const deleteRoutes = new Hono<ControlApp>();

deleteRoutes.post("/v1/delete", async (c) => {
  const principal = c.get("principal");
  if (principal === undefined) throw new UnauthenticatedError("authentication required: send Authorization: Bearer <credential>");
  if (principal.type === "node") throw new ForbiddenError("node credentials cannot delete config");
  const dryRun = booleanQuery(c.req.query("dryRun"), "dryRun");
  const ignoreNotFound = booleanQuery(c.req.query("ignoreNotFound"), "ignoreNotFound");
  // Checked before anything is read: a write that turns out to change nothing still reports a bad value.
  publishWaitMs(c);
  const defaultNamespace = c.req.query("namespace") ?? DEFAULT_NAMESPACE;
  // Checked before it names a namespace to look in: a typo would only ever find nothing.
  if (!isDns1123Label(defaultNamespace)) {
    throw new ValidationError(`namespace: the default namespace must be a DNS-1123 label, got ${JSON.stringify(defaultNamespace.slice(0, 80))}`, { field: "namespace" });
  }
  const docs = await readConfigDocuments(c);
  if (docs.length === 0) throw new ValidationError("body: no resources in the documents", { field: "body" });
  const targets = targetsOf(docs, defaultNamespace);
  for (const ns of new Set(targets.map((t) => t.namespace))) requireAccess(c, ns, dryRun ? "read" : "write");
  const database = db(c);
  return replanOnConflict(true, async () => {
    const stored = await getResources(database, targets);
    const missing = targets.filter((t) => !stored.has(keyString(t)));
    if (missing.length > 0 && !ignoreNotFound) {
      throw new ResourcesNotFoundError(
        missing.map((t) => ({ path: `documents[${t.index}].metadata.name`, message: `${t.info.plural}.${t.info.group} "${t.name}" not found in namespace ${t.namespace}` })),
      );
    }
    const changes: ResourceChange[] = targets.flatMap((t) => {
      const before = stored.get(keyString(t));
      return before === undefined ? [] : [{ op: "delete", before }];
    });
    const describe = (t: DeleteTarget, revision: number | null) => ({
      kind: t.kind,
      apiVersion: t.apiVersion,
      namespace: t.namespace,
      name: t.name,
      action: stored.has(keyString(t)) ? "deleted" : "not found",
      revision,
    });
    if (dryRun || changes.length === 0) return c.json({ revision: null, dryRun, results: targets.map((t) => describe(t, null)) });
    const touched = [...new Set(targets.map((t) => t.namespace))].sort();
    const { revision, publish } = await landChanges(c, database, changes, {
      operation: "delete",
      audit: { action: "config.delete", target: touched.join(","), detail: { documents: targets.length, deleted: changes.length } },
    });
    return c.json({ revision, dryRun, results: targets.map((t) => describe(t, revision)), ...(publish === undefined ? {} : { publish }) });
  });
});
