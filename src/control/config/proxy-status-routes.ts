import { Hono } from "hono";
import type { ControlApp } from "../types.ts";
import { requireAccess, requireNode } from "../auth.ts";
import { readJsonBody } from "../body.ts";
import { ValidationError } from "../../core/errors.ts";
import { systemClock } from "../../core/clock.ts";
import { proxyStatus, snapshots } from "../../../schema/config.ts";
import { attestedNodes } from "../../../schema/identity.ts";
import { snapshotTarget } from "../../core/snapshot/snapshot-model.ts";
import { db } from "./land-changes.ts";

/** `POST /v1/proxies/status` (a node reports what it applied), `GET /v1/proxies/status` (istioctl proxy-status). */
export const proxyStatusRoutes = new Hono<ControlApp>();

export type SyncStatus = "SYNCED" | "STALE" | "NOT SENT";

proxyStatusRoutes.post("/v1/proxies/status", async (c) => {
  const node = requireNode(c);
  const body = await readJsonBody(c);
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw new ValidationError("body: expected {version, hash}", { field: "body" });
  const { version, hash } = body as Record<string, unknown>;
  if (typeof version !== "number" || !Number.isSafeInteger(version) || version < 0) throw new ValidationError("version: expected a non-negative integer", { field: "version" });
  if (typeof hash !== "string" || !/^[0-9a-f]{64}$/.test(hash)) throw new ValidationError("hash: expected a lowercase hex SHA-256", { field: "hash" });
  const now = systemClock.now();
  await db(c)
    .insert(proxyStatus)
    .values({ nodeSpiffeId: node.spiffeId, appliedVersion: version, appliedHash: hash, reportedAt: now })
    .onConflictDoUpdate({ target: proxyStatus.nodeSpiffeId, set: { appliedVersion: version, appliedHash: hash, reportedAt: now } });
  return c.json({ node: `${node.cluster}/${node.node}`, spiffeId: node.spiffeId, appliedVersion: version, reportedAt: new Date(now).toISOString() });
});

proxyStatusRoutes.get("/v1/proxies/status", async (c) => {
  requireAccess(c, "*", "read");
  const database = db(c);
  const [nodes, reports, snaps] = await Promise.all([
    database.select().from(attestedNodes),
    database.select().from(proxyStatus),
    database.select().from(snapshots),
  ]);
  const reported = new Map(reports.map((r) => [r.nodeSpiffeId, r]));
  const latest = new Map(snaps.map((s) => [s.target, s]));
  const proxies = nodes
    .map((n) => {
      const r = reported.get(n.spiffeId);
      const l = latest.get(snapshotTarget({ cluster: n.cluster, node: n.node }));
      const status: SyncStatus = r === undefined ? "NOT SENT" : l !== undefined && r.appliedHash === l.hash ? "SYNCED" : "STALE";
      return {
        // Whether the control plane could publish this node's snapshot (issue: a failed publish is never silent).
        publish: l === undefined ? "PENDING" : l.error === null ? "OK" : "FAILED",
        publishError: l?.error ?? null,
        node: `${n.cluster}/${n.node}`,
        cluster: n.cluster,
        spiffeId: n.spiffeId,
        appliedVersion: r?.appliedVersion ?? null,
        latestVersion: l === undefined || l.version === 0 ? null : l.version,
        status,
        reportedAt: r === undefined ? null : new Date(r.reportedAt).toISOString(),
      };
    })
    .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  const failing = snaps.filter((t) => t.error !== null).map((t) => ({ target: t.target, error: t.error, failedRevision: t.failedRevision }));
  return c.json({ proxies, publish: { failing } });
});
