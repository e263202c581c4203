import { Hono, type Context } from "hono";
import { eq } from "drizzle-orm";
import type { ControlApp } from "../types.ts";
import type { ControlEnv } from "../env.ts";
import { requireAccess } from "../auth.ts";
import { ForbiddenError, NotFoundError, UnauthenticatedError, ValidationError } from "../../core/errors.ts";
import { snapshots } from "../../../schema/config.ts";
import { snapshotTarget } from "../../core/snapshot/snapshot-model.ts";
import { publishAfterWrite, snapshotKvKey, type StoredSnapshot } from "./snapshot-publisher.ts";
import { systemClock } from "../../core/clock.ts";
import { db } from "./land-changes.ts";

/** Snapshot distribution with `If-None-Match` long-poll. */
export const snapshotRoutes = new Hono<ControlApp>();

const DEFAULT_WAIT_SECONDS = 30;
const DEFAULT_MAX_WAIT_SECONDS = 60;
const POLL_INTERVAL_MS = 250;

/** Upper bound of `?wait=`: var SNAPSHOT_LONGPOLL_MAX_SECONDS, default 60. */
function maxWaitSeconds(env: ControlEnv): number {
  const raw = (env as ControlEnv & { SNAPSHOT_LONGPOLL_MAX_SECONDS?: string }).SNAPSHOT_LONGPOLL_MAX_SECONDS;
  const n = raw === undefined ? Number.NaN : Number(raw);
  return Number.isFinite(n) && n >= 0 ? n : DEFAULT_MAX_WAIT_SECONDS;
}

function waitSeconds(c: Context<ControlApp>): number {
  const raw = c.req.query("wait");
  const max = maxWaitSeconds(c.env);
  if (raw === undefined) return Math.min(DEFAULT_WAIT_SECONDS, max);
  if (!/^[0-9]{1,9}(\.[0-9]{1,9})?$/.test(raw)) throw new ValidationError(`wait: expected seconds from 0 to ${max}, got ${raw}`, { field: "wait" });
  return Math.min(Number(raw), max);
}

/** The version in `If-None-Match: "<version>"` (W/ prefix tolerated), or undefined. */
function knownVersion(c: Context<ControlApp>): number | undefined {
  const raw = c.req.header("if-none-match");
  if (raw === undefined || raw.trim() === "") return undefined;
  if (raw.trim() === "*") return 0;
  const m = /^(?:W\/)?"?([0-9]{1,15})"?$/.exec(raw.trim());
  if (m === null) throw new ValidationError(`If-None-Match: expected a snapshot version like "12", got ${raw}`, { field: "If-None-Match" });
  return Number(m[1]);
}

async function readLatest(c: Context<ControlApp>, target: string): Promise<StoredSnapshot | undefined> {
  const rows = await db(c).select({ version: snapshots.version }).from(snapshots).where(eq(snapshots.target, target)).limit(1);
  const row = rows[0];
  if (row === undefined) return undefined;
  const body = await c.env.CONFIG.get<StoredSnapshot>(snapshotKvKey(target), "json");
  // KV may lag D1 (eventual consistency): only what KV holds can be served.
  return body ?? undefined;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Answers at once when a version newer than `If-None-Match` exists; otherwise
 * polls until `?wait=` seconds pass and answers 304.
 */
async function serveSnapshot(c: Context<ControlApp>, target: string): Promise<Response> {
  const known = knownVersion(c);
  // Checked even when unused, so a typo is reported instead of silently ignored.
  const requestedWait = waitSeconds(c);
  const wait = known === undefined ? 0 : requestedWait;
  // A node attested after the last config change has no snapshot yet: compile it now rather than 404.
  if ((await readLatest(c, target)) === undefined) await publishAfterWrite(c.env, db(c), systemClock.now());
  // Counted in polls, not wall time: the Workers clock only moves on I/O.
  const polls = Math.floor((wait * 1000) / POLL_INTERVAL_MS);
  for (let i = 0; ; i++) {
    const latest = await readLatest(c, target);
    if (latest !== undefined && (known === undefined || latest.version > known)) {
      c.header("ETag", `"${latest.version}"`);
      c.header("Cache-Control", "no-store");
      return c.json({ version: latest.version, hash: latest.hash, revision: latest.revision, jws: latest.jws });
    }
    if (known === undefined) throw new NotFoundError(`no snapshot has been published for ${target} yet`);
    if (i >= polls) {
      return new Response(null, { status: 304, headers: { ETag: `"${latest?.version ?? known}"`, "Cache-Control": "no-store" } });
    }
    await sleep(POLL_INTERVAL_MS);
  }
}

/** Only the node itself (or the admin) reads a node's snapshot. */
function authorizeNode(c: Context<ControlApp>, cluster: string, node: string): void {
  const p = c.get("principal");
  if (p === undefined) throw new UnauthenticatedError("authentication required: send the node's JWT-SVID as Authorization: Bearer");
  if (p.type === "admin") return;
  if (p.type !== "node") throw new ForbiddenError("node credentials required to read a node snapshot");
  if (p.cluster !== cluster || p.node !== node) throw new ForbiddenError(`node ${p.cluster}/${p.node} may not read the snapshot of node ${cluster}/${node}`);
}

snapshotRoutes.get("/v1/snapshots/gateway", async (c) => {
  requireAccess(c, "*", "read");
  return serveSnapshot(c, snapshotTarget());
});

snapshotRoutes.get("/v1/snapshots/nodes/:cluster/:node", async (c) => {
  const cluster = c.req.param("cluster");
  const node = c.req.param("node");
  authorizeNode(c, cluster, node);
  return serveSnapshot(c, snapshotTarget({ cluster, node }));
});

snapshotRoutes.get("/v1/snapshots/nodes/:node", async (c) => {
  const node = c.req.param("node");
  const p = c.get("principal");
  if (p === undefined) throw new UnauthenticatedError("authentication required: send the node's JWT-SVID as Authorization: Bearer");
  if (p.type !== "node") throw new ValidationError("cluster: only a node caller may omit the cluster; use /v1/snapshots/nodes/<cluster>/<node>", { field: "cluster" });
  authorizeNode(c, p.cluster, node);
  return serveSnapshot(c, snapshotTarget({ cluster: p.cluster, node }));
});
