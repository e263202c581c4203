/**
 * Per-namespace quotas: how many resources (all kinds together) and how many bytes of stored
 * JSON (spec + labels + annotations) a namespace may hold. Defaults come from vars
 * NAMESPACE_MAX_RESOURCES / NAMESPACE_MAX_BYTES; the admin overrides them per namespace
 * (`PUT /v1/quotas/<namespace>`). A write that would take a namespace over either limit is
 * refused as a whole with 403 ERR_QUOTA_EXCEEDED naming the namespace, the limit and the usage;
 * writes that shrink a namespace are always allowed.
 */
import { eq, inArray, sql } from "drizzle-orm";
import { numberVar, type NumberVarSpec } from "../../core/env-vars.ts";
import type { Database } from "../db.ts";
import type { ControlEnv } from "../env.ts";
import { namespaceQuotas, resources } from "../../../schema/config.ts";
import type { ResourceChange } from "./resource-writer.ts";
import type { ResourceDraft } from "./resource-record.ts";
import { inListChunks } from "../d1-limits.ts";
import { QuotaExceededError } from "./errors.ts";

export interface QuotaLimits {
  maxResources: number;
  maxBytes: number;
}

export interface NamespaceUsage {
  resources: number;
  bytes: number;
}

/** The default quotas' vars: unset or empty means the default, anything else an integer from 1 (else 503 naming the var). */
export const QUOTA_VARS = {
  NAMESPACE_MAX_RESOURCES: { name: "NAMESPACE_MAX_RESOURCES", fallback: 5000, min: 1, max: Number.MAX_SAFE_INTEGER, integer: true },
  NAMESPACE_MAX_BYTES: { name: "NAMESPACE_MAX_BYTES", fallback: 8 * 1024 * 1024, min: 1, max: Number.MAX_SAFE_INTEGER, integer: true },
} as const satisfies Record<string, NumberVarSpec>;

/** The quotas of a namespace without an override; an `UnavailableError` (503) naming a var set to something else than a positive integer. */
export function defaultQuota(env: ControlEnv): QuotaLimits {
  return { maxResources: numberVar(env.NAMESPACE_MAX_RESOURCES, QUOTA_VARS.NAMESPACE_MAX_RESOURCES), maxBytes: numberVar(env.NAMESPACE_MAX_BYTES, QUOTA_VARS.NAMESPACE_MAX_BYTES) };
}

/** Stored size of a resource as the quota counts it (same measure as SQLite's length() of the columns). */
export function storedBytes(d: Pick<ResourceDraft, "spec" | "labels" | "annotations">): number {
  return JSON.stringify(d.spec).length + JSON.stringify(d.labels).length + JSON.stringify(d.annotations).length;
}

export async function usageOf(db: Database, namespaces: readonly string[]): Promise<Map<string, NamespaceUsage>> {
  const out = new Map<string, NamespaceUsage>(namespaces.map((ns) => [ns, { resources: 0, bytes: 0 }]));
  if (namespaces.length === 0) return out;
  const slices = await Promise.all(
    inListChunks(namespaces).map((slice) =>
      db
        .select({
          namespace: resources.namespace,
          count: sql<number>`count(*)`,
          bytes: sql<number>`coalesce(sum(length(${resources.spec}) + length(${resources.labels}) + length(${resources.annotations})), 0)`,
        })
        .from(resources)
        .where(inArray(resources.namespace, slice))
        .groupBy(resources.namespace),
    ),
  );
  for (const r of slices.flat()) out.set(r.namespace, { resources: Number(r.count), bytes: Number(r.bytes) });
  return out;
}

export async function limitsOf(db: Database, env: ControlEnv, namespaces: readonly string[]): Promise<Map<string, QuotaLimits>> {
  const out = new Map<string, QuotaLimits>();
  if (namespaces.length === 0) return out;
  const slices = await Promise.all(inListChunks(namespaces).map((slice) => db.select().from(namespaceQuotas).where(inArray(namespaceQuotas.namespace, slice))));
  for (const r of slices.flat()) out.set(r.namespace, { maxResources: r.maxResources, maxBytes: r.maxBytes });
  // The default only for namespaces without an override: a misconfigured default refuses only those.
  const missing = namespaces.filter((ns) => !out.has(ns));
  if (missing.length > 0) {
    const fallback = defaultQuota(env);
    for (const ns of missing) out.set(ns, fallback);
  }
  return out;
}

export async function quotaOverride(db: Database, namespace: string): Promise<QuotaLimits | undefined> {
  const rows = await db.select().from(namespaceQuotas).where(eq(namespaceQuotas.namespace, namespace)).limit(1);
  const r = rows[0];
  return r === undefined ? undefined : { maxResources: r.maxResources, maxBytes: r.maxBytes };
}

/** Refuses `changes` when they take a namespace over a quota (checked before the write lands). */
export async function enforceQuotas(db: Database, env: ControlEnv, changes: readonly ResourceChange[]): Promise<void> {
  const delta = new Map<string, NamespaceUsage>();
  const add = (ns: string, count: number, bytes: number) => {
    const d = delta.get(ns) ?? { resources: 0, bytes: 0 };
    d.resources += count;
    d.bytes += bytes;
    delta.set(ns, d);
  };
  for (const ch of changes) {
    if (ch.op === "create") add(ch.draft.namespace, 1, storedBytes(ch.draft));
    else if (ch.op === "update") add(ch.draft.namespace, 0, storedBytes(ch.draft) - storedBytes(ch.before));
    else add(ch.before.namespace, -1, -storedBytes(ch.before));
  }
  const growing = [...delta.entries()].filter(([, d]) => d.resources > 0 || d.bytes > 0).map(([ns]) => ns).sort();
  if (growing.length === 0) return;
  const [usage, limits] = await Promise.all([usageOf(db, growing), limitsOf(db, env, growing)]);
  for (const ns of growing) {
    const d = delta.get(ns)!;
    const u = usage.get(ns)!;
    const l = limits.get(ns)!;
    if (d.resources > 0 && u.resources + d.resources > l.maxResources) {
      throw new QuotaExceededError(
        `metadata.namespace: exceeded quota of namespace ${ns}: ${l.maxResources} resources allowed, ${u.resources} stored, this write adds ${d.resources} (the admin sets quotas with PUT /v1/quotas/${ns})`,
        { field: "metadata.namespace" },
      );
    }
    if (d.bytes > 0 && u.bytes + d.bytes > l.maxBytes) {
      throw new QuotaExceededError(
        `metadata.namespace: exceeded quota of namespace ${ns}: ${l.maxBytes} bytes of config allowed, ${u.bytes} stored, this write adds ${d.bytes} (the admin sets quotas with PUT /v1/quotas/${ns})`,
        { field: "metadata.namespace" },
      );
    }
  }
}
