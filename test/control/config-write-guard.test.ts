/**
 * The guarded batch of resource-writer.ts against real local D1 (workerd via
 * wrangler's getPlatformProxy): a write planned against a state that is no
 * longer current must abort the whole batch, never land over the newer write.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getPlatformProxy } from "wrangler";
import { drizzle } from "drizzle-orm/d1";
import * as schema from "../../schema/index.ts";
import { applyMigrations, projectRoot } from "../support/control-worker.ts";
import { commitChanges, type CommitRequest } from "../../src/control/config/resource-writer.ts";
import { getResource, loadAllResources } from "../../src/control/config/resource-queries.ts";
import type { ResourceDraft } from "../../src/control/config/resource-record.ts";
import { AlreadyExistsError, StaleResourceVersionError } from "../../src/control/config/errors.ts";
import type { Database } from "../../src/control/db.ts";

let dir: string;
let proxy: Awaited<ReturnType<typeof getPlatformProxy>>;
let db: Database;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "strait-guard-"));
  await applyMigrations(dir);
  proxy = await getPlatformProxy({ configPath: join(projectRoot, "wrangler.toml"), environment: "control", envFiles: [".strait-tests-load-no-env-file"], persist: { path: join(dir, "v3") }, remoteBindings: false });
  db = drizzle((proxy.env as { DB: D1Database }).DB, { schema });
});
after(async () => {
  await proxy?.dispose();
  await rm(dir, { recursive: true, force: true });
});

const req = (operation: CommitRequest["operation"]): CommitRequest => ({
  actor: "admin",
  operation,
  audit: { action: `config.${operation}`, target: "test" },
  at: 1_700_000_000_000,
  trustDomain: "strait.local",
});

function draft(name: string, host: string, labels: Record<string, string> = {}): ResourceDraft {
  return { kind: "DestinationRule", namespace: "shop", name, apiVersion: "networking.istio.io/v1", labels, annotations: {}, spec: { host } };
}

async function counts(): Promise<{ revisions: number; changes: number; audit: number; registrations: number }> {
  const one = async (table: string) => ((await db.all<{ n: number }>(`SELECT count(*) AS n FROM ${table}`))[0]?.n ?? -1);
  return { revisions: await one("revisions"), changes: await one("revision_changes"), audit: await one("audit_events"), registrations: await one("workload_registrations") };
}

test("create, then update against the current state lands; resourceVersion = revision id", async () => {
  const c1 = await commitChanges(db, [{ op: "create", draft: draft("a", "a") }], req("create"));
  const a1 = c1.after[0]!;
  assert.equal(a1.resourceVersion, c1.revision);
  const stored = await getResource(db, a1);
  assert.equal(stored?.resourceVersion, c1.revision);
  assert.equal(stored?.generation, 1);
  const c2 = await commitChanges(db, [{ op: "update", before: stored!, draft: draft("a", "a2") }], req("update"));
  assert.ok(c2.revision > c1.revision);
  const s2 = await getResource(db, a1);
  assert.equal(s2?.resourceVersion, c2.revision);
  assert.equal(s2?.generation, 2);
  const log = await db.all<{ revision: number; after: string }>(`SELECT revision, after FROM revision_changes WHERE revision = ${c2.revision}`);
  assert.equal(JSON.parse(log[0]!.after).metadata.resourceVersion, String(c2.revision));
});

test("an update planned against a stale state aborts the whole batch (guard statement)", async () => {
  const current = (await getResource(db, { kind: "DestinationRule", namespace: "shop", name: "a" }))!;
  const stale = { ...current, resourceVersion: current.resourceVersion - 1 };
  const before = await counts();
  await assert.rejects(
    commitChanges(db, [{ op: "create", draft: draft("b", "b") }, { op: "update", before: stale, draft: draft("a", "lost-update") }], req("apply")),
    (err: unknown) => err instanceof StaleResourceVersionError && err.field === "metadata.resourceVersion",
  );
  assert.deepEqual(await counts(), before, "no revision, change, audit row written");
  assert.equal(await getResource(db, { kind: "DestinationRule", namespace: "shop", name: "b" }), undefined, "the other change in the batch rolled back too");
  assert.deepEqual((await getResource(db, current))?.spec, current.spec);
});

test("a stale delete aborts; a create of an existing name is AlreadyExists", async () => {
  const current = (await getResource(db, { kind: "DestinationRule", namespace: "shop", name: "a" }))!;
  const before = await counts();
  await assert.rejects(commitChanges(db, [{ op: "delete", before: { ...current, resourceVersion: 1 } }], req("delete")), StaleResourceVersionError);
  await assert.rejects(commitChanges(db, [{ op: "create", draft: draft("a", "dup") }], req("create")), AlreadyExistsError);
  assert.deepEqual(await counts(), before);
  assert.equal((await loadAllResources(db)).length, 1);
});

test("WorkloadEntry writes keep workload_registrations in sync in the same batch", async () => {
  const we = (name: string, sa: string, node: string): ResourceDraft => ({
    kind: "WorkloadEntry",
    namespace: "shop",
    name,
    apiVersion: "networking.istio.io/v1",
    labels: { "strait.io/cluster": "c1", "strait.io/node": node },
    annotations: {},
    spec: { address: "10.0.0.1", serviceAccount: sa },
  });
  await commitChanges(db, [{ op: "create", draft: we("w1", "reviews", "n1") }, { op: "create", draft: we("w2", "reviews", "n1") }], req("apply"));
  const rows = () => db.all<{ spiffe_id: string; node_spiffe_id: string; source: string }>("SELECT spiffe_id, node_spiffe_id, source FROM workload_registrations ORDER BY spiffe_id, node_spiffe_id");
  assert.deepEqual(await rows(), [{ spiffe_id: "spiffe://strait.local/ns/shop/sa/reviews", node_spiffe_id: "spiffe://strait.local/node/c1/n1", source: "workloadentry" }]);
  // Deleting one of two entries sharing the identity keeps the registration.
  const w1 = (await getResource(db, { kind: "WorkloadEntry", namespace: "shop", name: "w1" }))!;
  await commitChanges(db, [{ op: "delete", before: w1 }], req("delete"));
  assert.equal((await rows()).length, 1);
  // Moving the other to node n2 moves the registration.
  const w2 = (await getResource(db, { kind: "WorkloadEntry", namespace: "shop", name: "w2" }))!;
  await commitChanges(db, [{ op: "update", before: w2, draft: we("w2", "reviews", "n2") }], req("update"));
  assert.deepEqual((await rows()).map((r) => r.node_spiffe_id), ["spiffe://strait.local/node/c1/n2"]);
  const w2b = (await getResource(db, { kind: "WorkloadEntry", namespace: "shop", name: "w2" }))!;
  await commitChanges(db, [{ op: "delete", before: w2b }], req("delete"));
  assert.deepEqual(await rows(), []);
});
