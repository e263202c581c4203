import { and, eq, sql, type SQL } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Database } from "../db.ts";
import { resources, revisionChanges, revisions } from "../../../schema/config.ts";
import { auditInsert, type AuditEvent } from "../audit.ts";
import { keyString, manifestOf, type ResourceDraft, type StoredResource } from "./resource-record.ts";
import { AlreadyExistsError, StaleResourceVersionError } from "./errors.ts";
import { jsonEqual } from "./field-diff.ts";
import { registrationStatements, type WorkloadEntryChange } from "./registration-sync.ts";
import { loadNamespaceWorkloadEntries } from "./resource-queries.ts";

/**
 * One change to land. `update` and `delete` carry the state they were planned
 * against; the write only lands if that is still the stored state.
 * `create` may carry a uid and creation time to restore (rollback).
 */
export type ResourceChange =
  | { op: "create"; draft: ResourceDraft; restore?: { uid: string; createdAt: number } }
  | { op: "update"; before: StoredResource; draft: ResourceDraft }
  | { op: "delete"; before: StoredResource };

export interface CommitRequest {
  actor: string;
  operation: "apply" | "create" | "update" | "delete" | "rollback";
  message?: string;
  /** Audit `action` and `target`; the revision and change count are added to `detail`. */
  audit: Pick<AuditEvent, "action" | "target"> & { detail?: Record<string, unknown> };
  at: number;
  trustDomain: string;
}

export interface CommitResult {
  revision: number;
  /** State after the write, per change in order (`null` for a delete). */
  after: (StoredResource | null)[];
}

// The new revision's id inside the batch: the batch is one transaction, so it is the max.
const REVISION_ID = sql`(SELECT max(${revisions.id}) FROM ${revisions})`;

function keyOf(c: ResourceChange): { kind: string; namespace: string; name: string } {
  return c.op === "create" ? c.draft : c.op === "update" ? c.draft : c.before;
}

function afterState(c: ResourceChange, at: number): StoredResource | null {
  switch (c.op) {
    case "create":
      return { ...c.draft, uid: c.restore?.uid ?? crypto.randomUUID(), resourceVersion: 0, generation: 1, createdAt: c.restore?.createdAt ?? at, updatedAt: at };
    case "update":
      return {
        ...c.draft,
        uid: c.before.uid,
        resourceVersion: 0,
        generation: c.before.generation + (jsonEqual(c.before.spec, c.draft.spec) ? 0 : 1),
        createdAt: c.before.createdAt,
        updatedAt: at,
      };
    case "delete":
      return null;
  }
}

function mutation(db: Database, c: ResourceChange, after: StoredResource | null): BatchItem<"sqlite"> {
  if (c.op === "delete") {
    const b = c.before;
    return db
      .delete(resources)
      .where(and(eq(resources.kind, b.kind), eq(resources.namespace, b.namespace), eq(resources.name, b.name), eq(resources.resourceVersion, b.resourceVersion)));
  }
  if (after === null) throw new TypeError("create/update without an after state");
  const values = {
    apiVersion: after.apiVersion,
    resourceVersion: REVISION_ID as unknown as number,
    generation: after.generation,
    labels: JSON.stringify(after.labels),
    annotations: JSON.stringify(after.annotations),
    spec: JSON.stringify(after.spec),
    updatedAt: after.updatedAt,
  };
  if (c.op === "create") {
    return db.insert(resources).values({ ...values, kind: after.kind, namespace: after.namespace, name: after.name, uid: after.uid, createdAt: after.createdAt });
  }
  const b = c.before;
  return db
    .update(resources)
    .set(values)
    .where(and(eq(resources.kind, b.kind), eq(resources.namespace, b.namespace), eq(resources.name, b.name), eq(resources.resourceVersion, b.resourceVersion)));
}

/**
 * Appends the change to the revision log, and is the guard of the statement
 * before it: if that statement changed no row (someone else wrote first), the
 * revision column gets NULL, the NOT NULL constraint fails and D1 rolls the
 * whole batch back.
 */
function changeLogEntry(db: Database, seq: number, c: ResourceChange, after: StoredResource | null): BatchItem<"sqlite"> {
  const k = keyOf(c);
  const before = c.op === "create" ? null : JSON.stringify(manifestOf(c.before));
  const afterJson: SQL =
    after === null
      ? sql`NULL`
      : sql`json_set(${JSON.stringify(manifestOf(after))}, '$.metadata.resourceVersion', CAST(${REVISION_ID} AS TEXT))`;
  // Column order is the table's: revision, seq, kind, namespace, name, before, after.
  return db
    .insert(revisionChanges)
    .select(sql`SELECT CASE WHEN changes() = 1 THEN ${REVISION_ID} ELSE NULL END, ${seq}, ${k.kind}, ${k.namespace}, ${k.name}, ${before}, ${afterJson}`);
}

function describeFailure(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e instanceof Error && parts.length < 5; e = e.cause) parts.push(e.message);
  return parts.join(" | ");
}

/**
 * Lands `changes` as one revision in one atomic D1 batch: the revision row,
 * each guarded resource write with its change-log entry, the WorkloadEntry
 * registration sync and the audit event. A lost race aborts everything:
 * a stale `update`/`delete` gives StaleResourceVersionError, a `create` of an
 * existing name AlreadyExistsError.
 */
export async function commitChanges(db: Database, changes: readonly ResourceChange[], req: CommitRequest): Promise<CommitResult> {
  if (changes.length === 0) throw new TypeError("commitChanges: nothing to commit");
  const after = changes.map((c) => afterState(c, req.at));
  const statements: BatchItem<"sqlite">[] = [
    db.insert(revisions).values({ at: req.at, actor: req.actor, operation: req.operation, message: req.message ?? null }),
  ];
  changes.forEach((c, i) => {
    statements.push(mutation(db, c, after[i] ?? null), changeLogEntry(db, i, c, after[i] ?? null));
  });

  const workloadChanges: WorkloadEntryChange[] = [];
  changes.forEach((c, i) => {
    const k = keyOf(c);
    if (k.kind !== "WorkloadEntry") return;
    workloadChanges.push({ ref: `${k.namespace}/${k.name}`, namespace: k.namespace, before: c.op === "create" ? undefined : c.before, after: after[i] ?? undefined });
  });
  if (workloadChanges.length > 0) {
    const namespaceState = async (namespaces: readonly string[]) => {
      const state = new Map<string, StoredResource>();
      for (const we of await loadNamespaceWorkloadEntries(db, namespaces)) state.set(keyString(we), we);
      changes.forEach((c, i) => {
        const a = after[i];
        if (keyOf(c).kind !== "WorkloadEntry") return;
        if (a === null || a === undefined) state.delete(keyString(keyOf(c) as StoredResource));
        else state.set(keyString(a), a);
      });
      return [...state.values()];
    };
    statements.push(...(await registrationStatements(db, workloadChanges, namespaceState, req.trustDomain, req.at)));
  }
  statements.push(
    auditInsert(db, { actor: req.actor, action: req.audit.action, target: req.audit.target, outcome: "success", detail: { ...req.audit.detail, changes: changes.length } }, req.at),
    db.select({ id: sql<number>`max(${revisions.id})` }).from(revisions),
  );

  let results: unknown[];
  try {
    results = (await db.batch(statements as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]])) as unknown[];
  } catch (err) {
    const why = describeFailure(err);
    if (/NOT NULL constraint failed: revision_changes\.revision/i.test(why)) {
      throw new StaleResourceVersionError("metadata.resourceVersion: the resource was modified concurrently; read it again and retry");
    }
    if (/(UNIQUE|PRIMARY KEY) constraint failed: resources\./i.test(why)) {
      const created = changes.find((c) => c.op === "create");
      throw new AlreadyExistsError(
        created === undefined ? "metadata.name: already exists" : `metadata.name: ${created.draft.kind} ${created.draft.namespace}/${created.draft.name} already exists`,
        { field: "metadata.name" },
      );
    }
    throw err;
  }
  const last = results[results.length - 1] as { id: number }[];
  const revision = last[0]?.id;
  if (typeof revision !== "number") throw new Error("revision id missing from batch result");
  return { revision, after: after.map((a) => (a === null ? null : { ...a, resourceVersion: revision })) };
}
