import type { DrizzleD1Database } from "drizzle-orm/d1";
import type { BatchItem } from "drizzle-orm/batch";
import { auditEvents } from "../../schema/index.ts";

/** One entry of the append-only audit log (table `audit_events`). */
export interface AuditEvent {
  /** Who acted: see `actorOf` in auth.ts ("admin", "node:spiffe://...", "token:<id>:<subject>", "anonymous"). */
  actor: string;
  /** What was attempted, e.g. "identity.attest", "config.apply". */
  action: string;
  /** What it was done to, e.g. a SPIFFE ID or "Gateway/ns/name". */
  target: string;
  outcome: "success" | "denied" | "failure";
  detail?: Record<string, unknown>;
}

/**
 * A statement that appends `e`; put it in the same `db.batch([...])` as the write
 * it audits so both land or neither does.
 *
 * @example await db.batch([db.insert(resources).values(row), auditInsert(db, { actor, action: "config.create", target, outcome: "success" }, now)]);
 */
export function auditInsert<S extends Record<string, unknown>>(db: DrizzleD1Database<S>, e: AuditEvent, at: number): BatchItem<"sqlite"> {
  return db.insert(auditEvents).values({
    at,
    actor: e.actor,
    action: e.action,
    target: e.target,
    outcome: e.outcome,
    detail: e.detail === undefined ? null : JSON.stringify(e.detail),
  });
}

/** Appends `e` on its own (for refusals and reads that have no write to share a batch with). */
export async function recordAudit<S extends Record<string, unknown>>(db: DrizzleD1Database<S>, e: AuditEvent, at: number): Promise<void> {
  await auditInsert(db, e, at);
}
