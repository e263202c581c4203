import type { AnyResource, Kind, ObjectMeta, Resource } from "../../core/config/resource.ts";
import type { resources } from "../../../schema/config.ts";
import { jsonEqual } from "./field-diff.ts";

/** Primary key of a stored resource. */
export interface ResourceKey {
  kind: Kind;
  namespace: string;
  name: string;
}

/** `Kind/namespace/name`. */
export function keyString(k: ResourceKey): string {
  return `${k.kind}/${k.namespace}/${k.name}`;
}

/** What a client asks to store: a validated resource without server-owned metadata. */
export interface ResourceDraft extends ResourceKey {
  apiVersion: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  spec: unknown;
}

/** A row of `resources`, decoded. */
export interface StoredResource extends ResourceDraft {
  uid: string;
  resourceVersion: number;
  generation: number;
  createdAt: number;
  updatedAt: number;
}

export type ResourceRow = typeof resources.$inferSelect;

/** The draft a manifest asks for: a parsed request body, or a manifest read back from the revision log. */
export function draftOf(r: Resource): ResourceDraft {
  return {
    kind: r.kind,
    namespace: r.metadata.namespace,
    name: r.metadata.name,
    apiVersion: r.apiVersion,
    labels: r.metadata.labels ?? {},
    annotations: r.metadata.annotations ?? {},
    spec: r.spec,
  };
}

export function storedFromRow(row: ResourceRow): StoredResource {
  return {
    kind: row.kind as Kind,
    namespace: row.namespace,
    name: row.name,
    apiVersion: row.apiVersion,
    uid: row.uid,
    resourceVersion: row.resourceVersion,
    generation: row.generation,
    labels: JSON.parse(row.labels) as Record<string, string>,
    annotations: JSON.parse(row.annotations) as Record<string, string>,
    spec: JSON.parse(row.spec) as unknown,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/**
 * The Kubernetes-shaped object for a stored resource. `apiVersion` defaults to
 * the stored one; the REST API passes the version the client asked for.
 */
export function manifestOf(r: StoredResource, apiVersion: string = r.apiVersion): Resource {
  const metadata: ObjectMeta = {
    name: r.name,
    namespace: r.namespace,
    uid: r.uid,
    resourceVersion: String(r.resourceVersion),
    generation: r.generation,
    creationTimestamp: new Date(r.createdAt).toISOString(),
  };
  if (Object.keys(r.labels).length > 0) metadata.labels = r.labels;
  if (Object.keys(r.annotations).length > 0) metadata.annotations = r.annotations;
  return { apiVersion, kind: r.kind, metadata, spec: r.spec };
}

/** The stored resource as the compiler sees it (validated on write, so it is an `AnyResource`). */
export function asAnyResource(r: StoredResource): AnyResource {
  return manifestOf(r) as AnyResource;
}

/** True when applying `draft` over `current` changes nothing the user controls. */
export function sameContent(current: ResourceDraft, draft: ResourceDraft): boolean {
  return jsonEqual(current.spec, draft.spec) && jsonEqual(current.labels, draft.labels) && jsonEqual(current.annotations, draft.annotations);
}
