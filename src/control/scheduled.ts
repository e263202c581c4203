import { systemClock } from "../core/clock.ts";
import { parseNumberVar } from "../core/env-vars.ts";
import { AUDIT_RETENTION_VARS, pruneAuditEvents, pruneAuditRefusals } from "./audit.ts";
import { database } from "./db.ts";
import type { ControlEnv } from "./env.ts";

/**
 * The control worker's cron (wrangler.toml `[env.control.triggers]`): applies the audit retention
 * (AUDIT_RETENTION_DAYS for audit events, AUDIT_REFUSAL_RETENTION_DAYS for refusal counters).
 *
 * A cron has no one to answer 503 to, so a misconfigured retention var is one `console.error`
 * naming it and that pruning is skipped: deleting audit data with a guessed retention could
 * destroy records the operator meant to keep, while keeping them one more day costs nothing.
 * The other pruning, whose var is fine, still runs.
 */
export async function runScheduled(env: ControlEnv): Promise<void> {
  const db = database(env);
  const now = systemClock.now();
  const prunings = [
    { spec: AUDIT_RETENTION_VARS.AUDIT_RETENTION_DAYS, key: "removedEvents", prune: (days: number) => pruneAuditEvents(db, days, now) },
    { spec: AUDIT_RETENTION_VARS.AUDIT_REFUSAL_RETENTION_DAYS, key: "removedRefusalCounters", prune: (days: number) => pruneAuditRefusals(db, days, now) },
  ] as const;
  const removed: Record<string, number> = {};
  const skipped: string[] = [];
  for (const p of prunings) {
    const days = parseNumberVar(env[p.spec.name], p.spec);
    if (!days.ok) {
      console.error(JSON.stringify({ msg: "audit retention skipped: misconfigured var", var: p.spec.name, error: `${p.spec.name}: ${days.why}` }));
      skipped.push(p.spec.name);
      continue;
    }
    removed[p.key] = await p.prune(days.value);
  }
  console.log(JSON.stringify({ msg: "audit retention applied", ...removed, ...(skipped.length === 0 ? {} : { skipped }) }));
}
