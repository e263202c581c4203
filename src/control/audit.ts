import type { DrizzleD1Database } from "drizzle-orm/d1";
import type { BatchItem } from "drizzle-orm/batch";
import { lt, sql } from "drizzle-orm";
import { auditEvents, auditRefusals } from "../../schema/index.ts";
import type { NumberVarSpec } from "../core/env-vars.ts";

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

/** One refused request from a caller without valid credentials. */
export interface AnonymousRefusal {
  /** The client's address (`CF-Connecting-IP`), or `unknown`. */
  source: string;
  code: string;
  /** `METHOD path`, already a short safe excerpt. */
  sample: string;
}

const MINUTE_MS = 60_000;

/**
 * Counts a refused anonymous request in its source's counter for the current minute
 * (table `audit_refusals`): one upsert, never a new row per request.
 */
export async function recordAnonymousRefusal<S extends Record<string, unknown>>(db: DrizzleD1Database<S>, r: AnonymousRefusal, at: number): Promise<void> {
  const minute = Math.floor(at / MINUTE_MS) * MINUTE_MS;
  await db
    .insert(auditRefusals)
    .values({ minute, source: r.source, code: r.code, count: 1, firstAt: at, lastAt: at, sample: r.sample })
    .onConflictDoUpdate({
      target: [auditRefusals.minute, auditRefusals.source, auditRefusals.code],
      set: { count: sql`${auditRefusals.count} + 1`, lastAt: sql`max(${auditRefusals.lastAt}, excluded.last_at)` },
    });
}

/** How long audit data is kept (vars AUDIT_RETENTION_DAYS, AUDIT_REFUSAL_RETENTION_DAYS). */
export interface AuditRetention {
  eventsDays: number;
  refusalsDays: number;
}

export const DEFAULT_AUDIT_RETENTION: AuditRetention = { eventsDays: 90, refusalsDays: 14 };

/** Whole days from 1 to 3650; unset or empty means the default (see src/control/scheduled.ts for a bad value). */
export const AUDIT_RETENTION_VARS = {
  AUDIT_RETENTION_DAYS: { name: "AUDIT_RETENTION_DAYS", fallback: DEFAULT_AUDIT_RETENTION.eventsDays, min: 1, max: 3650, integer: true },
  AUDIT_REFUSAL_RETENTION_DAYS: { name: "AUDIT_REFUSAL_RETENTION_DAYS", fallback: DEFAULT_AUDIT_RETENTION.refusalsDays, min: 1, max: 3650, integer: true },
} as const satisfies Record<string, NumberVarSpec>;

/** Deletes audit events older than `days` (run by the control worker's cron). */
export async function pruneAuditEvents<S extends Record<string, unknown>>(db: DrizzleD1Database<S>, days: number, now: number): Promise<number> {
  const r = await db.delete(auditEvents).where(lt(auditEvents.at, now - days * 86_400_000));
  return r.meta.changes ?? 0;
}

/** Deletes refusal counters older than `days` (run by the control worker's cron). */
export async function pruneAuditRefusals<S extends Record<string, unknown>>(db: DrizzleD1Database<S>, days: number, now: number): Promise<number> {
  const r = await db.delete(auditRefusals).where(lt(auditRefusals.minute, now - days * 86_400_000));
  return r.meta.changes ?? 0;
}
