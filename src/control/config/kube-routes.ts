import { Hono, type Context } from "hono";
import type { ControlApp } from "../types.ts";
import { requireAccess } from "../auth.ts";
import { NotFoundError, ValidationError } from "../../core/errors.ts";
import { findKindByPlural, type KindInfo } from "../../core/config/resource.ts";
import { validateResource } from "../../core/config/validate.ts";
import { ConfigValidationError } from "../../core/config/errors.ts";
import { readResourceBody } from "./request-body.ts";
import { draftOf, manifestOf, sameContent, type ResourceDraft, type StoredResource } from "./resource-record.ts";
import { getResource, latestRevision, listResources } from "./resource-queries.ts";
import { matchesSelector, parseLabelSelector } from "./label-selector.ts";
import { AlreadyExistsError, StaleResourceVersionError } from "./errors.ts";
import { db, landChanges, publishWaitMs, replanOnConflict } from "./land-changes.ts";
import { requestedResourceVersion } from "./resource-version.ts";

/** Kubernetes-style REST for the Istio kinds: `/apis/<group>/<version>/[namespaces/<ns>/]<plural>[/<name>]`. */
export const kubeRoutes = new Hono<ControlApp>();

interface Target {
  info: KindInfo;
  apiVersion: string;
}

// RFC 1123 label, as Kubernetes requires of a namespace name.
const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function targetOf(c: Context<ControlApp>): Target {
  const group = c.req.param("group") ?? "";
  const version = c.req.param("version") ?? "";
  const plural = c.req.param("plural") ?? "";
  const info = findKindByPlural(group, version, plural);
  if (info === undefined) throw new NotFoundError(`the server could not find the requested resource: ${plural}.${group}/${version}`);
  const namespace = c.req.param("namespace");
  if (namespace !== undefined && !NAMESPACE.test(namespace)) {
    throw new ValidationError(`metadata.namespace: the namespace in the URL must be a DNS-1123 label, got ${JSON.stringify(namespace)}`, { field: "metadata.namespace" });
  }
  return { info, apiVersion: `${group}/${version}` };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** A client's value in a message: a string as is, anything else by its type (String() of a deeply nested array overflows the stack). */
function shown(v: unknown): string {
  if (typeof v === "string") return v;
  return v === null ? "null" : Array.isArray(v) ? "an array" : typeof v === "object" ? "an object" : `${typeof v} ${String(v)}`;
}

/**
 * Validates a body against the URL: kind, group, namespace and (for PUT) name
 * must agree; the namespace defaults to the URL's.
 */
function validateBody(doc: unknown, t: Target, namespace: string, name?: string): ResourceDraft {
  if (!isRecord(doc)) throw new ValidationError("body: expected a resource object", { field: "body" });
  if (doc.kind !== undefined && doc.kind !== t.info.kind) {
    throw new ValidationError(`kind: ${shown(doc.kind)} does not match the URL's ${t.info.kind}`, { field: "kind" });
  }
  if (typeof doc.apiVersion === "string" && doc.apiVersion.split("/")[0] !== t.info.group) {
    throw new ValidationError(`apiVersion: ${doc.apiVersion} does not match the URL's group ${t.info.group}`, { field: "apiVersion" });
  }
  const meta = isRecord(doc.metadata) ? doc.metadata : undefined;
  if (meta?.namespace !== undefined && meta.namespace !== namespace) {
    throw new ValidationError(`metadata.namespace: ${shown(meta.namespace)} does not match the namespace in the URL (${namespace})`, { field: "metadata.namespace" });
  }
  if (name !== undefined && meta?.name !== undefined && meta.name !== name) {
    throw new ValidationError(`metadata.name: ${shown(meta.name)} does not match the name in the URL (${name})`, { field: "metadata.name" });
  }
  const filled = { ...doc, kind: doc.kind ?? t.info.kind, apiVersion: doc.apiVersion ?? t.apiVersion, metadata: { ...meta, name: meta?.name ?? name } };
  const result = validateResource(filled, { defaultNamespace: namespace });
  if (!result.ok) throw new ConfigValidationError(result.errors);
  return draftOf(result.resource);
}

function requireName(c: Context<ControlApp>): string {
  return c.req.param("name") ?? "";
}

async function list(c: Context<ControlApp>, namespace: string | undefined) {
  const t = targetOf(c);
  requireAccess(c, namespace ?? "*", "read");
  const selector = parseLabelSelector(c.req.query("labelSelector") ?? "");
  const database = db(c);
  const [items, revision] = await Promise.all([listResources(database, t.info.kind, namespace), latestRevision(database)]);
  return c.json({
    apiVersion: t.apiVersion,
    kind: `${t.info.kind}List`,
    metadata: { resourceVersion: String(revision) },
    items: items.filter((r) => matchesSelector(selector, r.labels)).map((r) => manifestOf(r, t.apiVersion)),
  });
}

kubeRoutes.get("/apis/:group/:version/:plural", (c) => list(c, undefined));
kubeRoutes.get("/apis/:group/:version/namespaces/:namespace/:plural", (c) => list(c, c.req.param("namespace")));

kubeRoutes.get("/apis/:group/:version/namespaces/:namespace/:plural/:name", async (c) => {
  const t = targetOf(c);
  const namespace = c.req.param("namespace");
  requireAccess(c, namespace, "read");
  const found = await getResource(db(c), { kind: t.info.kind, namespace, name: requireName(c) });
  if (found === undefined) throw new NotFoundError(`${t.info.plural} "${requireName(c)}" not found in namespace ${namespace}`, { field: "metadata.name" });
  return c.json(manifestOf(found, t.apiVersion));
});

kubeRoutes.post("/apis/:group/:version/namespaces/:namespace/:plural", async (c) => {
  const t = targetOf(c);
  const namespace = c.req.param("namespace");
  requireAccess(c, namespace, "write");
  // Checked before anything is read: a write that turns out to change nothing still reports a bad value.
  publishWaitMs(c);
  const body = await readResourceBody(c);
  const draft = validateBody(body, t, namespace);
  // As in Kubernetes: a create names no version to replace.
  if (requestedResourceVersion(body) !== undefined) {
    throw new ValidationError("metadata.resourceVersion: must not be set on create", { field: "metadata.resourceVersion" });
  }
  const database = db(c);
  const existing = await getResource(database, draft);
  if (existing !== undefined) throw new AlreadyExistsError(`metadata.name: ${t.info.plural} "${draft.name}" already exists in namespace ${namespace}`, { field: "metadata.name" });
  const { after, revision } = await landChanges(c, database, [{ op: "create", draft }], {
    operation: "create",
    audit: { action: "config.create", target: `${draft.kind}/${draft.namespace}/${draft.name}` },
  });
  c.header("X-Strait-Revision", String(revision));
  return c.json(manifestOf(after[0] as StoredResource, t.apiVersion), 201);
});

kubeRoutes.put("/apis/:group/:version/namespaces/:namespace/:plural/:name", async (c) => {
  const t = targetOf(c);
  const namespace = c.req.param("namespace");
  const name = requireName(c);
  requireAccess(c, namespace, "write");
  // Checked before anything is read: a write that turns out to change nothing still reports a bad value.
  publishWaitMs(c);
  const body = await readResourceBody(c);
  const draft = validateBody(body, t, namespace, name);
  const wanted = requestedResourceVersion(body);
  const database = db(c);
  return replanOnConflict(wanted === undefined, async () => {
    const current = await getResource(database, draft);
    if (current === undefined) throw new NotFoundError(`${t.info.plural} "${name}" not found in namespace ${namespace}`, { field: "metadata.name" });
    if (wanted !== undefined && wanted !== current.resourceVersion) {
      throw new StaleResourceVersionError(`metadata.resourceVersion: ${wanted} is not the current version (${current.resourceVersion}); read the resource again and retry`);
    }
    if (sameContent(current, draft)) return c.json(manifestOf(current, t.apiVersion));
    const { after, revision } = await landChanges(c, database, [{ op: "update", before: current, draft }], {
      operation: "update",
      audit: { action: "config.update", target: `${draft.kind}/${namespace}/${name}` },
    });
    c.header("X-Strait-Revision", String(revision));
    return c.json(manifestOf(after[0] as StoredResource, t.apiVersion));
  });
});

kubeRoutes.delete("/apis/:group/:version/namespaces/:namespace/:plural/:name", async (c) => {
  const t = targetOf(c);
  const namespace = c.req.param("namespace");
  const name = requireName(c);
  requireAccess(c, namespace, "write");
  // Checked before anything is read: a write that turns out to change nothing still reports a bad value.
  publishWaitMs(c);
  // A precondition may come as `?resourceVersion=` or a body with metadata.resourceVersion / preconditions.resourceVersion.
  let wanted = requestedResourceVersion({ metadata: { resourceVersion: c.req.query("resourceVersion") } }, "resourceVersion");
  if (c.req.header("content-length") !== undefined && c.req.header("content-length") !== "0") {
    const body = await readResourceBody(c);
    wanted ??= requestedResourceVersion(body);
    if (isRecord(body) && isRecord(body.preconditions)) wanted ??= requestedResourceVersion({ metadata: body.preconditions }, "preconditions.resourceVersion");
  }
  const database = db(c);
  return replanOnConflict(wanted === undefined, async () => {
    const current = await getResource(database, { kind: t.info.kind, namespace, name });
    if (current === undefined) throw new NotFoundError(`${t.info.plural} "${name}" not found in namespace ${namespace}`, { field: "metadata.name" });
    if (wanted !== undefined && wanted !== current.resourceVersion) {
      throw new StaleResourceVersionError(`metadata.resourceVersion: ${wanted} is not the current version (${current.resourceVersion}); read the resource again and retry`);
    }
    const { revision } = await landChanges(c, database, [{ op: "delete", before: current }], {
      operation: "delete",
      audit: { action: "config.delete", target: `${t.info.kind}/${namespace}/${name}` },
    });
    c.header("X-Strait-Revision", String(revision));
    return c.json({ kind: "Status", apiVersion: "v1", status: "Success", details: { name, kind: t.info.plural, group: t.info.group }, revision });
  });
});
