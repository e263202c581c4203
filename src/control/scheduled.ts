import { systemClock } from "../core/clock.ts";
import { auditRetention, pruneAudit } from "./audit.ts";
import { database } from "./db.ts";
import type { ControlEnv } from "./env.ts";

/**
 * The control worker's cron (wrangler.toml `[env.control.triggers]`): applies the audit retention
 * (AUDIT_RETENTION_DAYS for audit events, AUDIT_REFUSAL_RETENTION_DAYS for refusal counters).
 */
export async function runScheduled(env: ControlEnv): Promise<void> {
  const removed = await pruneAudit(database(env), auditRetention(env), systemClock.now());
  console.log(JSON.stringify({ msg: "audit retention applied", removedEvents: removed.events, removedRefusalCounters: removed.refusals }));
}
