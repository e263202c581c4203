/**
 * The publisher's in-memory copy of the stored config, kept current from the revision log.
 *
 * The first refresh (and one every {@link FULL_RESYNC_MS}) reads every resource; the ones in
 * between read only the `revision_changes` rows committed after the revision already held. Every
 * write lands through `commitChanges` as one D1 batch that inserts its revision row and its change
 * rows together, and D1 runs batches one at a time, so revision ids become visible in order and
 * "every change after revision N" is exactly what the mirror is missing.
 *
 * An unchanged resource keeps its object across refreshes (a full resync too: a resource with the
 * same `uid` and `resourceVersion` is the same content), which is what lets the compile memo
 * (core/snapshot/compile-memo.ts) reuse everything built from it.
 */
import { asc, gt, sql } from "drizzle-orm";
import type { Database } from "../db.ts";
import { resources, revisionChanges, revisions } from "../../../schema/config.ts";
import type { AnyResource } from "../../core/config/resource.ts";
import { asAnyResource, storedFromRow } from "../config/resource-record.ts";

/** A full re-read of the resources at least this often, so a change made around the API (by hand in D1) is picked up. */
export const FULL_RESYNC_MS = 10 * 60 * 1000;
/** More change rows than this since the last refresh: read everything instead. */
const MAX_INCREMENTAL_ROWS = 5000;

export interface MirrorRefresh {
  /** Newest revision the resources reflect. */
  revision: number;
  resources: readonly AnyResource[];
  /** "full" (every resource read) or "changes" (only the revision log since the last refresh). */
  mode: "full" | "changes";
  /** Change rows applied (incremental) or resources read (full). */
  rows: number;
}

function keyOf(kind: string, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}

function identity(r: AnyResource): string {
  return `${r.metadata.uid ?? ""}@${r.metadata.resourceVersion ?? ""}`;
}

export class ResourceMirror {
  private readonly byKey = new Map<string, AnyResource>();
  private revision = -1;
  private lastFull = 0;
  private list: AnyResource[] | undefined;

  /** Brings the mirror up to the newest committed revision. */
  async refresh(db: Database, now: number): Promise<MirrorRefresh> {
    if (this.revision < 0 || now - this.lastFull >= FULL_RESYNC_MS) return this.fullLoad(db, now);
    const rows = await db
      .select({ revision: revisionChanges.revision, kind: revisionChanges.kind, namespace: revisionChanges.namespace, name: revisionChanges.name, after: revisionChanges.after })
      .from(revisionChanges)
      .where(gt(revisionChanges.revision, this.revision))
      .orderBy(asc(revisionChanges.revision), asc(revisionChanges.seq))
      .limit(MAX_INCREMENTAL_ROWS + 1);
    if (rows.length > MAX_INCREMENTAL_ROWS) return this.fullLoad(db, now);
    for (const row of rows) {
      const key = keyOf(row.kind, row.namespace, row.name);
      if (row.after === null) this.byKey.delete(key);
      else this.byKey.set(key, JSON.parse(row.after) as AnyResource);
      if (row.revision > this.revision) this.revision = row.revision;
    }
    if (rows.length > 0) this.list = undefined;
    return { revision: this.revision, resources: this.resources(), mode: "changes", rows: rows.length };
  }

  private async fullLoad(db: Database, now: number): Promise<MirrorRefresh> {
    // One batch is one transaction: the revision and the rows are of the same moment.
    const [rev, rows] = await db.batch([
      db.select({ id: sql<number | null>`max(${revisions.id})` }).from(revisions),
      db.select().from(resources).orderBy(asc(resources.kind), asc(resources.namespace), asc(resources.name)),
    ]);
    const seen = new Set<string>();
    for (const row of rows) {
      const fresh = asAnyResource(storedFromRow(row));
      const key = keyOf(fresh.kind, fresh.metadata.namespace, fresh.metadata.name);
      seen.add(key);
      const held = this.byKey.get(key);
      if (held === undefined || identity(held) !== identity(fresh)) this.byKey.set(key, fresh);
    }
    for (const key of [...this.byKey.keys()]) if (!seen.has(key)) this.byKey.delete(key);
    this.revision = rev[0]?.id ?? 0;
    this.lastFull = now;
    this.list = undefined;
    return { revision: this.revision, resources: this.resources(), mode: "full", rows: rows.length };
  }

  private resources(): readonly AnyResource[] {
    this.list ??= [...this.byKey.values()];
    return this.list;
  }
}
