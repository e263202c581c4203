import type { DrizzleD1Database } from "drizzle-orm/d1";
import type { BatchItem } from "drizzle-orm/batch";
import { lt, sql } from "drizzle-orm";
import { auditEvents, auditRefusals } from "../../schema/index.ts";

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

function days(raw: string | undefined, fallback: number, name: string): number {
  if (raw === undefined || raw.trim() === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 3650) throw new TypeError(`${name}: expected whole days from 1 to 3650, got ${raw}`);
  return n;
}

export function auditRetention(env: { AUDIT_RETENTION_DAYS?: string; AUDIT_REFUSAL_RETENTION_DAYS?: string }): AuditRetention {
  return {
    eventsDays: days(env.AUDIT_RETENTION_DAYS, DEFAULT_AUDIT_RETENTION.eventsDays, "AUDIT_RETENTION_DAYS"),
    refusalsDays: days(env.AUDIT_REFUSAL_RETENTION_DAYS, DEFAULT_AUDIT_RETENTION.refusalsDays, "AUDIT_REFUSAL_RETENTION_DAYS"),
  };
}

/** Deletes audit events and refusal counters older than the retention (run by the control worker's cron). */
export async function pruneAudit<S extends Record<string, unknown>>(db: DrizzleD1Database<S>, retention: AuditRetention, now: number): Promise<{ events: number; refusals: number }> {
  const day = 86_400_000;
  const [events, refusals] = await db.batch([
    db.delete(auditEvents).where(lt(auditEvents.at, now - retention.eventsDays * day)),
    db.delete(auditRefusals).where(lt(auditRefusals.minute, now - retention.refusalsDays * day)),
  ]);
  return { events: events.meta.changes ?? 0, refusals: refusals.meta.changes ?? 0 };
}
