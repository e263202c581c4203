import { and, asc, eq, inArray, or, sql } from "drizzle-orm";
import type { Database } from "../db.ts";
import { resources, revisions } from "../../../schema/config.ts";
import type { Kind } from "../../core/config/resource.ts";
import { boundChunks, inListChunks } from "../d1-limits.ts";
import { keyString, storedFromRow, type ResourceKey, type StoredResource } from "./resource-record.ts";

/** The stored resource, or undefined. */
export async function getResource(db: Database, key: ResourceKey): Promise<StoredResource | undefined> {
  const rows = await db
    .select()
    .from(resources)
    .where(and(eq(resources.kind, key.kind), eq(resources.namespace, key.namespace), eq(resources.name, key.name)))
    .limit(1);
  const row = rows[0];
  return row === undefined ? undefined : storedFromRow(row);
}

/** Bound parameters one key takes in `getResources`' WHERE (kind, namespace, name). */
const PARAMETERS_PER_KEY = 3;

/**
 * The stored resources named by `keys` (those that exist), keyed by `keyString`: only the rows a
 * write plans against, however many other resources their namespaces hold, in
 * ceil(keys / 33) primary-key lookups (D1's bound-parameter limit) whatever the number of kinds
 * and namespaces they span.
 */
export async function getResources(db: Database, keys: readonly ResourceKey[]): Promise<Map<string, StoredResource>> {
  const unique = [...new Map(keys.map((k) => [keyString(k), k])).values()];
  const slices = await Promise.all(
    boundChunks(unique, PARAMETERS_PER_KEY).map((slice) =>
      db
        .select()
        .from(resources)
        .where(or(...slice.map((k) => and(eq(resources.kind, k.kind), eq(resources.namespace, k.namespace), eq(resources.name, k.name))))),
    ),
  );
  const found = new Map<string, StoredResource>();
  for (const row of slices.flat()) {
    const r = storedFromRow(row);
    found.set(keyString(r), r);
  }
  return found;
}

/** Resources of one kind, in one namespace or all, ordered by namespace and name. */
export async function listResources(db: Database, kind: Kind, namespace?: string): Promise<StoredResource[]> {
  const where = namespace === undefined ? eq(resources.kind, kind) : and(eq(resources.kind, kind), eq(resources.namespace, namespace));
  const rows = await db.select().from(resources).where(where).orderBy(asc(resources.namespace), asc(resources.name));
  return rows.map(storedFromRow);
}

/** The whole stored config. */
export async function loadAllResources(db: Database): Promise<StoredResource[]> {
  const rows = await db.select().from(resources).orderBy(asc(resources.kind), asc(resources.namespace), asc(resources.name));
  return rows.map(storedFromRow);
}

/** Every WorkloadEntry of the given namespaces. */
export async function loadNamespaceWorkloadEntries(db: Database, namespaces: readonly string[]): Promise<StoredResource[]> {
  if (namespaces.length === 0) return [];
  const slices = await Promise.all(
    inListChunks(namespaces, 1).map((slice) =>
      db
        .select()
        .from(resources)
        .where(and(eq(resources.kind, "WorkloadEntry"), inArray(resources.namespace, slice))),
    ),
  );
  return slices.flat().map(storedFromRow);
}

/** Id of the newest revision (0 when nothing was ever written): the list `resourceVersion`. */
export async function latestRevision(db: Database): Promise<number> {
  const rows = await db.select({ id: sql<number | null>`max(${revisions.id})` }).from(revisions);
  return rows[0]?.id ?? 0;
}
