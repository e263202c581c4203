import type { Context } from "hono";
import { systemClock } from "../../core/clock.ts";
import type { ControlApp } from "../types.ts";
import { actorOf } from "../auth.ts";
import { database, type Database } from "../db.ts";
import { commitChanges, type CommitRequest, type CommitResult, type ResourceChange } from "./resource-writer.ts";
import { ValidationError } from "../../core/errors.ts";
import { publisher, requestPublish } from "../publishing/publisher-client.ts";
import { publisherSettings } from "../publishing/publisher-settings.ts";
import type { WaitForRevisionAnswer } from "../publishing/publisher-api.ts";
import { AlreadyExistsError, StaleResourceVersionError } from "./errors.ts";
import { enforceQuotas } from "./namespace-quotas.ts";

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

/**
 * `?wait=<seconds>` of a write: how long to wait for the revision to be published (like
 * `kubectl rollout status`), capped by PUBLISH_WAIT_MAX_SECONDS; undefined when absent.
 * Checked before anything is written.
 */
export function publishWaitMs(c: Context<ControlApp>): number | undefined {
  const raw = c.req.query("wait");
  if (raw === undefined) return undefined;
  const max = publisherSettings(c.env).maxPublishWaitSeconds;
  if (!/^[0-9]{1,9}(\.[0-9]{1,9})?$/.test(raw)) throw new ValidationError(`wait: expected seconds from 0 to ${max}, got ${raw}`, { field: "wait" });
  return Math.round(Math.min(Number(raw), max) * 1000);
}

export interface LandResult extends CommitResult {
  /** With `?wait=`: whether the revision was published in time, and which targets failed. */
  publish?: WaitForRevisionAnswer;
}

/**
 * Lands `changes` for the calling principal (after the namespace quotas allow them) and asks the
 * publisher to publish; answers at once with the revision, or, with `?wait=`, once the revision
 * is published (or failed, or the wait ran out). The state goes in header `X-Strait-Publish`.
 */
export async function landChanges(
  c: Context<ControlApp>,
  db: Database,
  changes: readonly ResourceChange[],
  req: Pick<CommitRequest, "operation" | "audit" | "message">,
): Promise<LandResult> {
  const waitMs = publishWaitMs(c);
  await enforceQuotas(db, c.env, changes);
  const now = systemClock.now();
  const result = await commitChanges(db, changes, {
    ...req,
    actor: actorOf(c.get("principal")),
    at: now,
    trustDomain: c.env.TRUST_DOMAIN ?? "strait.local",
  });
  await requestPublish(c.env);
  c.header("X-Strait-Revision", String(result.revision));
  if (waitMs === undefined) return result;
  let publish: WaitForRevisionAnswer;
  try {
    publish = await publisher(c.env).waitForRevision(result.revision, waitMs);
  } catch (err) {
    console.error("waiting for the publish failed", err instanceof Error ? err.message : String(err));
    publish = { state: "Pending", revision: result.revision, publishedRevision: 0 };
  }
  c.header("X-Strait-Publish", publish.state);
  return { ...result, publish };
}

export function db(c: Context<ControlApp>): Database {
  return database(c.env);
}
