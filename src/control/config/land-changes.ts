import type { Context } from "hono";
import { systemClock } from "../../core/clock.ts";
import type { ControlApp } from "../types.ts";
import { actorOf } from "../auth.ts";
import { database, type Database } from "../db.ts";
import { commitChanges, type CommitRequest, type CommitResult, type ResourceChange } from "./resource-writer.ts";
import { publishAfterWrite } from "./snapshot-publisher.ts";

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
