/**
 * Publish status in D1 (table `snapshots`): per target, the live manifest's version, revision and
 * hash, the newest revision it reflects, and the last failure. The API, `strait proxy-status`
 * and the metrics read it from here.
 */
import { eq, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Database } from "../db.ts";
import { snapshots } from "../../../schema/config.ts";
import type { PublishRunReport } from "./publish-run.ts";

/** Longest failure message kept per target. */
const MAX_ERROR_CHARS = 500;

export interface TargetStatus {
  target: string;
  version: number;
  revision: number;
  hash: string;
  syncedRevision: number;
  error: string | null;
  failedRevision: number | null;
  failures: number;
  updatedAt: number;
}

/** Writes the outcome of one publish run, one upsert per target, in one batch. */
export async function recordRun(db: Database, report: PublishRunReport, sizes: ReadonlyMap<string, number>, at: number, staleTargets: readonly string[] = []): Promise<void> {
  const rev = report.revision;
  // Targets that no longer exist (a node whose WorkloadEntries all went) stop counting.
  const statements: BatchItem<"sqlite">[] = staleTargets.map((t) => db.delete(snapshots).where(eq(snapshots.target, t)));
  for (const t of report.targets) {
    if (t.state === "failed") {
      const error = (t.error ?? "publish failed").slice(0, MAX_ERROR_CHARS);
      statements.push(
        db
          .insert(snapshots)
          .values({ target: t.target, version: 0, revision: 0, hash: "", size: 0, updatedAt: at, syncedRevision: 0, error, failedRevision: rev, failures: 1 })
          .onConflictDoUpdate({ target: snapshots.target, set: { error, failedRevision: rev, failures: sql`${snapshots.failures} + 1`, updatedAt: at } }),
      );
    } else if (t.state === "published") {
      const row = { version: t.version, revision: rev, hash: t.hash ?? "", size: sizes.get(t.target) ?? 0, updatedAt: at, error: null, failedRevision: null, failures: 0 };
      statements.push(
        db
          .insert(snapshots)
          .values({ target: t.target, ...row, syncedRevision: rev })
          .onConflictDoUpdate({ target: snapshots.target, set: { ...row, syncedRevision: sql`max(${snapshots.syncedRevision}, ${rev})` } }),
      );
    } else {
      statements.push(
        db
          .update(snapshots)
          .set({ syncedRevision: sql`max(${snapshots.syncedRevision}, ${rev})`, error: null, failedRevision: null, failures: 0 })
          .where(eq(snapshots.target, t.target)),
      );
    }
  }
  if (statements.length === 0) return;
  await db.batch(statements as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]);
}

export async function listTargetStatus(db: Database): Promise<TargetStatus[]> {
  const rows = await db.select().from(snapshots);
  return rows
    .map((r) => ({
      target: r.target,
      version: r.version,
      revision: r.revision,
      hash: r.hash,
      syncedRevision: r.syncedRevision,
      error: r.error,
      failedRevision: r.failedRevision,
      failures: r.failures,
      updatedAt: r.updatedAt,
    }))
    .sort((a, b) => (a.target === "gateway" ? -1 : b.target === "gateway" ? 1 : a.target < b.target ? -1 : a.target > b.target ? 1 : 0));
}

/** A revision's publish state, from the per-target status. */
export type RevisionPublishState = "Published" | "Failed" | "Pending";

export interface RevisionPublishStatus {
  revision: number;
  state: RevisionPublishState;
  targets: { target: string; state: "Published" | "Failed" | "Pending"; version: number; error?: string }[];
}

/**
 * Published when every target reflects `revision` or newer; Failed when a target that does not
 * reflect it failed at or after it; Pending otherwise.
 */
export function revisionStatus(revision: number, targets: readonly TargetStatus[]): RevisionPublishStatus {
  const out: RevisionPublishStatus["targets"] = targets.map((t) => {
    if (t.syncedRevision >= revision) return { target: t.target, state: "Published", version: t.version };
    if (t.error !== null && (t.failedRevision ?? 0) >= revision) return { target: t.target, state: "Failed", version: t.version, error: t.error };
    return { target: t.target, state: "Pending", version: t.version };
  });
  const state: RevisionPublishState =
    out.length > 0 && out.every((t) => t.state === "Published") ? "Published" : out.some((t) => t.state === "Failed") ? "Failed" : "Pending";
  return { revision, state, targets: out };
}
