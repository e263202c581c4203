import { and, asc, desc, eq, lt, sql } from "drizzle-orm";
import type { Database } from "../db.ts";
import { revisionChanges, revisions } from "../../../schema/config.ts";

export interface RevisionSummary {
  id: number;
  at: string;
  actor: string;
  operation: string;
  message: string | null;
  changes: number;
}

export interface RevisionChange {
  seq: number;
  kind: string;
  namespace: string;
  name: string;
  before: unknown;
  after: unknown;
}

/** Revisions newest first; `before` is an exclusive id cursor. */
export async function listRevisions(db: Database, limit: number, before?: number): Promise<RevisionSummary[]> {
  const rows = await db
    .select({
      id: revisions.id,
      at: revisions.at,
      actor: revisions.actor,
      operation: revisions.operation,
      message: revisions.message,
      changes: sql<number>`(SELECT count(*) FROM ${revisionChanges} WHERE ${revisionChanges.revision} = ${revisions.id})`,
    })
    .from(revisions)
    .where(before === undefined ? undefined : lt(revisions.id, before))
    .orderBy(desc(revisions.id))
    .limit(limit);
  return rows.map((r) => ({ ...r, at: new Date(r.at).toISOString() }));
}

/** One revision with its changes (full before/after objects), or undefined. */
export async function getRevision(db: Database, id: number): Promise<(RevisionSummary & { items: RevisionChange[] }) | undefined> {
  const [head, changes] = await Promise.all([
    db.select().from(revisions).where(eq(revisions.id, id)).limit(1),
    db.select().from(revisionChanges).where(eq(revisionChanges.revision, id)).orderBy(asc(revisionChanges.seq)),
  ]);
  const r = head[0];
  if (r === undefined) return undefined;
  return {
    id: r.id,
    at: new Date(r.at).toISOString(),
    actor: r.actor,
    operation: r.operation,
    message: r.message,
    changes: changes.length,
    items: changes.map((ch) => ({
      seq: ch.seq,
      kind: ch.kind,
      namespace: ch.namespace,
      name: ch.name,
      before: ch.before === null ? null : (JSON.parse(ch.before) as unknown),
      after: ch.after === null ? null : (JSON.parse(ch.after) as unknown),
    })),
  };
}

/**
 * For every resource changed after revision `n`: its full object right after
 * revision `n` (`null` when it did not exist then).
 */
export async function stateAfterRevision(db: Database, n: number): Promise<{ kind: string; namespace: string; name: string; after: unknown }[]> {
  const rows = await db.all<{ kind: string; namespace: string; name: string; after: string | null }>(sql`
    WITH touched AS (SELECT DISTINCT kind, namespace, name FROM ${revisionChanges} WHERE revision > ${n})
    SELECT t.kind AS kind, t.namespace AS namespace, t.name AS name,
      (SELECT r.after FROM ${revisionChanges} r
        WHERE r.kind = t.kind AND r.namespace = t.namespace AND r.name = t.name AND r.revision <= ${n}
        ORDER BY r.revision DESC, r.seq DESC LIMIT 1) AS after
    FROM touched t ORDER BY t.kind, t.namespace, t.name`);
  return rows.map((r) => ({ kind: r.kind, namespace: r.namespace, name: r.name, after: r.after === null ? null : (JSON.parse(r.after) as unknown) }));
}

export async function revisionExists(db: Database, id: number): Promise<boolean> {
  const rows = await db.select({ id: revisions.id }).from(revisions).where(and(eq(revisions.id, id))).limit(1);
  return rows.length > 0;
}
