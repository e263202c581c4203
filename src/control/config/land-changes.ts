import type { Context } from "hono";
import { systemClock } from "../../core/clock.ts";
import type { ControlApp } from "../types.ts";
import { actorOf } from "../auth.ts";
import { database, type Database } from "../db.ts";
import { commitChanges, type CommitRequest, type CommitResult, type ResourceChange } from "./resource-writer.ts";
import { publishAfterWrite } from "./snapshot-publisher.ts";
import { AlreadyExistsError, StaleResourceVersionError } from "./errors.ts";

/** How often an unconditional write is re-planned after losing a race before the 409 reaches the client. */
const MAX_PLAN_ATTEMPTS = 4;

/**
 * Runs `attempt` (read, plan, land) and, for an unconditional write (the client
 * sent no `resourceVersion`), runs it again when it lost a race to another
 * writer: like Kubernetes' guaranteed update, last writer wins, and every
 * landed write is still planned against the state it replaces. A write that
 * named a `resourceVersion` gets the 409 at once.
 */
export async function replanOnConflict<T>(unconditional: boolean, attempt: () => Promise<T>): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await attempt();
    } catch (err) {
      const lostRace = err instanceof StaleResourceVersionError || err instanceof AlreadyExistsError;
      if (!unconditional || !lostRace || i >= MAX_PLAN_ATTEMPTS) throw err;
    }
  }
}

/** Lands `changes` for the calling principal, then republishes snapshots. */
export async function landChanges(
  c: Context<ControlApp>,
  db: Database,
  changes: readonly ResourceChange[],
  req: Pick<CommitRequest, "operation" | "audit" | "message">,
): Promise<CommitResult> {
  const now = systemClock.now();
  const result = await commitChanges(db, changes, {
    ...req,
    actor: actorOf(c.get("principal")),
    at: now,
    trustDomain: c.env.TRUST_DOMAIN ?? "strait.local",
  });
  await publishAfterWrite(c.env, db, now);
  return result;
}

export function db(c: Context<ControlApp>): Database {
  return database(c.env);
}
