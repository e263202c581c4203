import { Hono } from "hono";
import type { ControlApp } from "../types.ts";
import { requireAccess } from "../auth.ts";
import { ValidationError } from "../../core/errors.ts";
import { publisher } from "../publishing/publisher-client.ts";
import { listTargetStatus, revisionStatus } from "../publishing/publish-status.ts";
import { PROMETHEUS_CONTENT_TYPE, renderGauges } from "../publishing/prometheus-text.ts";
import { db } from "./land-changes.ts";

/**
 * Publish status: `GET /v1/publish/status` (the publisher and every target),
 * `GET /v1/revisions/<id>/publish` (one revision: Published, Failed or Pending per target) and
 * `GET /v1/metrics` (Prometheus text: per-target version, failures, publisher runs).
 */
export const publishRoutes = new Hono<ControlApp>();

publishRoutes.get("/v1/publish/status", async (c) => {
  requireAccess(c, "*", "read");
  const [state, targets] = await Promise.all([publisher(c.env).status(), listTargetStatus(db(c))]);
  return c.json({
    publisher: state,
    targets: targets.map((t) => ({
      target: t.target,
      version: t.version,
      revision: t.revision,
      syncedRevision: t.syncedRevision,
      state: t.error === null ? "Published" : "Failed",
      error: t.error,
      failedRevision: t.failedRevision,
      failures: t.failures,
      updatedAt: new Date(t.updatedAt).toISOString(),
    })),
  });
});

publishRoutes.get("/v1/revisions/:id/publish", async (c) => {
  requireAccess(c, "*", "read");
  const raw = c.req.param("id");
  const id = /^[0-9]{1,15}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(id) || id < 1) throw new ValidationError("id: expected a revision number", { field: "id" });
  return c.json(revisionStatus(id, await listTargetStatus(db(c))));
});

publishRoutes.get("/v1/metrics", async (c) => {
  requireAccess(c, "*", "read");
  const [state, targets] = await Promise.all([publisher(c.env).status(), listTargetStatus(db(c))]);
  const perTarget = (name: string, help: string, value: (t: (typeof targets)[number]) => number) => ({
    name,
    help,
    samples: targets.map((t) => ({ labels: { target: t.target }, value: value(t) })),
  });
  const single = (name: string, help: string, value: number) => ({ name, help, samples: [{ value }] });
  const text = renderGauges([
    perTarget("strait_snapshot_version", "Live snapshot version per publish target.", (t) => t.version),
    perTarget("strait_snapshot_synced_revision", "Newest config revision each target reflects.", (t) => t.syncedRevision),
    perTarget("strait_snapshot_publish_failing", "1 when the last publish of the target failed.", (t) => (t.error === null ? 0 : 1)),
    perTarget("strait_snapshot_publish_failures", "Consecutive failed publishes per target.", (t) => t.failures),
    single("strait_publish_published_revision", "Newest revision published to every target.", state.publishedRevision),
    single("strait_publish_runs", "Publish runs since the publisher object started.", state.runs),
    single("strait_publish_failed_runs", "Consecutive publish runs with a failure.", state.failedRuns),
    single("strait_snapshot_waiting_polls", "Snapshot long-polls held now.", state.waiting),
    single("strait_snapshot_blobs_live", "Snapshot blobs in KV that live manifests reference.", state.blobs.live),
    single("strait_snapshot_blobs_retired", "Snapshot blobs in KV no live manifest references, kept until their retention ends.", state.blobs.retired),
    single("strait_snapshot_blobs_deleted", "Snapshot blobs deleted from KV since the publisher object started.", state.blobs.deletedTotal),
  ]);
  return c.body(text, 200, { "Content-Type": PROMETHEUS_CONTENT_TYPE });
});
