import { Hono, type Context } from "hono";
import type { ControlApp, Principal } from "../types.ts";
import { nodeStandingRefused, requireAccess } from "../auth.ts";
import { ForbiddenError, NotFoundError, UnauthenticatedError, ValidationError } from "../../core/errors.ts";
import { snapshotTarget } from "../../core/snapshot/snapshot-model.ts";
import { blobKey } from "../../core/snapshot/kv-layout.ts";
import { SHA256_HEX } from "../../core/snapshot/sha256.ts";
import { publisher } from "../publishing/publisher-client.ts";
import { publisherSettings } from "../publishing/publisher-settings.ts";
import type { HeadAnswer } from "../publishing/publisher-api.ts";

/**
 * Snapshot distribution: `GET` a target's signed manifest head, with `If-None-Match` + `?wait=`
 * long-poll (304 when nothing newer arrives in time), and `GET /v1/snapshots/blobs/<hash>` for the
 * blobs a manifest names. Waiting polls are held by the publisher object, which answers them the
 * moment a new version is published; waiting costs no D1 or KV read.
 */
export const snapshotRoutes = new Hono<ControlApp>();

const DEFAULT_WAIT_SECONDS = 30;
/** Slack the route gives the publisher object beyond the wait before answering 304 itself. */
const ROUTE_SLACK_MS = 1500;

function waitSeconds(c: Context<ControlApp>): number {
  const raw = c.req.query("wait");
  const max = publisherSettings(c.env).maxWaitSeconds;
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

/** Who holds a wait, for the per-credential cap. */
function credentialOf(p: Principal): string {
  switch (p.type) {
    case "admin":
      return "admin";
    case "node":
      return `node:${p.spiffeId}`;
    case "token":
      return `token:${p.tokenId}`;
  }
}

/**
 * Answers at once when a version newer than `If-None-Match` exists; otherwise waits, wall-clock
 * bounded by `?wait=` (capped by SNAPSHOT_LONGPOLL_MAX_SECONDS), and answers 304. A credential
 * holding SNAPSHOT_LONGPOLL_MAX_PER_CREDENTIAL waits already gets 429.
 */
async function serveSnapshot(c: Context<ControlApp>, target: string): Promise<Response> {
  const known = knownVersion(c);
  // Checked even when unused, so a typo is reported instead of silently ignored.
  const requestedWait = waitSeconds(c);
  const waitMs = Math.round((known === undefined ? 0 : requestedWait) * 1000);
  const settings = publisherSettings(c.env);
  const principal = c.get("principal");
  if (principal === undefined) throw new UnauthenticatedError("authentication required");
  const credential = credentialOf(principal);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<HeadAnswer>((resolve) => {
    // The route's own bound: answered in time even if the publisher object is busy.
    timer = setTimeout(() => resolve({ status: 304, version: known ?? 0 }), waitMs + ROUTE_SLACK_MS + (known === undefined ? 20_000 : 0));
  });
  let answer: HeadAnswer;
  try {
    const node = principal.type === "node" && principal.standing === "publisher" ? principal.spiffeId : undefined;
    answer = await Promise.race([publisher(c.env).head(target, known, waitMs, credential, settings.maxWaitsPerCredential, node), deadline]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
  switch (answer.status) {
    case 200:
      c.header("ETag", `"${answer.head.version}"`);
      c.header("Cache-Control", "no-store");
      return c.json({ version: answer.head.version, hash: answer.head.hash, revision: answer.head.revision, jws: answer.head.jws });
    case 304:
      if (known === undefined) throw new NotFoundError(`no snapshot has been published for ${target} yet`);
      return new Response(null, { status: 304, headers: { ETag: `"${answer.version}"`, "Cache-Control": "no-store" } });
    case 404:
      throw new NotFoundError(`no snapshot has been published for ${target} yet`);
    case 401:
      return nodeStandingRefused(answer.message);
    case 429:
      return c.json(
        { error: { code: "ERR_TOO_MANY_WAITS", message: `this credential already holds ${settings.maxWaitsPerCredential} waiting snapshot requests (SNAPSHOT_LONGPOLL_MAX_PER_CREDENTIAL); retry when one answers` } },
        429,
        { "Retry-After": "1" },
      );
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

/**
 * A blob by its SHA-256. A node reads only blobs of its own live manifest; the admin and
 * mesh-wide readers any blob. Blobs are immutable: cacheable forever.
 */
snapshotRoutes.get("/v1/snapshots/blobs/:hash", async (c) => {
  const hash = c.req.param("hash");
  if (!SHA256_HEX.test(hash)) throw new ValidationError("hash: expected a lowercase hex SHA-256", { field: "hash" });
  const p = c.get("principal");
  if (p === undefined) throw new UnauthenticatedError("authentication required: send Authorization: Bearer <credential>");
  if (p.type === "node") {
    if (p.standing === "publisher") {
      const refused = await publisher(c.env).nodeStanding(p.spiffeId);
      if (refused !== null) nodeStandingRefused(refused);
    }
    if (!(await publisher(c.env).hasBlob(snapshotTarget({ cluster: p.cluster, node: p.node }), hash))) {
      throw new NotFoundError(`blob ${hash} is not part of node ${p.cluster}/${p.node}'s snapshot`, { field: "hash" });
    }
  } else {
    requireAccess(c, "*", "read");
  }
  const body = await c.env.CONFIG.get(blobKey(hash), "arrayBuffer");
  if (body === null) throw new NotFoundError(`blob ${hash} is not stored`, { field: "hash" });
  return new Response(body, { headers: { "Content-Type": "application/json", "Cache-Control": "private, max-age=31536000, immutable", ETag: `"${hash}"` } });
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
