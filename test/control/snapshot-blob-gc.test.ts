/**
 * Snapshot blobs no live manifest references leave KV once SNAPSHOT_BLOB_RETENTION_SECONDS pass,
 * in real workerd with real KV: after a change, the blobs only the old snapshots used are deleted
 * while every blob of the live snapshots stays, and node proxies (over the API) and the gateway
 * (from KV) still read and verify them; flipping back to the old config writes its blobs again;
 * a blob no manifest ever referenced is found by the periodic sweep and deleted.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createThrowawayCa, type ThrowawayCa } from "../support/throwaway-ca.ts";
import { bearer, controlClient, type AttestedNode } from "../support/control-client.ts";
import { startRestartableControlWorker, type RestartableControlWorker } from "../support/identity-d1.ts";
import { bundleKeys, httpSnapshotSource } from "../support/snapshot-client.ts";
import type { KvNamespaceHandle } from "../support/control-worker.ts";
import { SnapshotReader } from "../../src/core/snapshot/snapshot-reader.ts";
import { blobHashes, type SnapshotManifest } from "../../src/core/snapshot/snapshot-layout.ts";
import { kvSnapshotSource } from "../../src/core/snapshot/kv-layout.ts";

type Json = Record<string, any>;
let ca: ThrowawayCa;
let rw: RestartableControlWorker;
let node: AttestedNode;
const control = controlClient<Json>(() => rw.worker, () => ca.adminToken);

const config = (port: number) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: a, namespace: shop}
spec: {hosts: [a], location: MESH_INTERNAL, resolution: STATIC, ports: [{number: 80, name: http, protocol: HTTP}], workloadSelector: {labels: {app: a}}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: a-1, namespace: shop, labels: {strait.io/cluster: c1, strait.io/node: n1}}
spec: {address: 10.0.1.1, serviceAccount: a, labels: {app: a}, ports: {http: ${port}}}`;

async function applyAndWait(yaml: string): Promise<void> {
  const r = await rw.worker.fetch("/v1/apply?wait=60", { method: "POST", headers: bearer(ca.adminToken, "application/yaml"), body: yaml });
  const body = (await r.json()) as Json;
  assert.equal(r.status, 200, JSON.stringify(body));
  assert.equal(body.publish?.state, "Published", JSON.stringify(body.publish));
}

async function kv(): Promise<KvNamespaceHandle> {
  return rw.worker.kv("CONFIG");
}

async function storedBlobs(): Promise<Set<string>> {
  const store = await kv();
  const out = new Set<string>();
  let cursor: string | undefined;
  do {
    const page = await store.list({ prefix: "blob:", ...(cursor === undefined ? {} : { cursor }) });
    for (const k of page.keys) out.add(k.name.slice("blob:".length));
    cursor = page.list_complete ? undefined : page.cursor;
  } while (cursor !== undefined);
  return out;
}

/** The blobs the live manifests of the gateway and node c1/n1 reference (from their signed heads). */
async function liveBlobs(): Promise<Set<string>> {
  const out = new Set<string>();
  for (const [path, token] of [["/v1/snapshots/gateway", ca.adminToken], ["/v1/snapshots/nodes/c1/n1", node.jwt]] as const) {
    const r = await control.api(path, { token });
    assert.equal(r.status, 200, r.text);
    const manifest = JSON.parse(Buffer.from((r.body.jws as string).split(".")[1] as string, "base64url").toString("utf8")) as SnapshotManifest;
    for (const h of blobHashes(manifest)) out.add(h);
  }
  return out;
}

/** Both targets read and verified as their consumers do: the node over the API, the gateway from KV. */
async function assertReadable(step: string): Promise<void> {
  const nodeReader = new SnapshotReader({ source: httpSnapshotSource(rw.worker, () => node.jwt), target: "node:c1/n1", keys: bundleKeys(rw.worker), type: "node" });
  const nodeSnapshot = await nodeReader.poll();
  assert.equal(nodeSnapshot?.snapshot.type, "node", `${step}: node snapshot readable`);
  const gatewayReader = new SnapshotReader({ source: kvSnapshotSource(await kv()), target: "gateway", keys: bundleKeys(rw.worker), type: "gateway" });
  const gatewaySnapshot = await gatewayReader.poll();
  assert.equal(gatewaySnapshot?.snapshot.type, "gateway", `${step}: gateway snapshot readable from KV`);
}

async function until(what: string, check: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) assert.fail(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function publisherBlobs(): Promise<Json> {
  const r = await control.api("/v1/publish/status", { token: ca.adminToken });
  assert.equal(r.status, 200, r.text);
  return r.body.publisher.blobs as Json;
}

before(async () => {
  ca = await createThrowawayCa();
  rw = await startRestartableControlWorker({ ...ca.vars, SNAPSHOT_BLOB_RETENTION_SECONDS: "1", SNAPSHOT_BLOB_SWEEP_INTERVAL_SECONDS: "3" });
  node = await control.attest("c1", "n1");
});
after(async () => {
  await rw?.dispose();
});

test("after a change, blobs only the old snapshots used are deleted; live blobs stay and both consumers read them", async () => {
  await applyAndWait(config(8080));
  const first = await liveBlobs();
  await applyAndWait(config(8081));
  const second = await liveBlobs();
  const oldOnly = [...first].filter((h) => !second.has(h));
  assert.ok(oldOnly.length > 0, "the change replaced at least one blob");

  await until("the old-only blobs are gone from KV", async () => {
    const inKv = await storedBlobs();
    return oldOnly.every((h) => !inKv.has(h));
  });
  const inKv = await storedBlobs();
  for (const h of second) assert.ok(inKv.has(h), `live blob ${h} stays`);
  assert.deepEqual([...inKv].sort(), [...second].sort(), "KV holds exactly the live blobs");
  const status = await publisherBlobs();
  assert.equal(status.live, second.size);
  assert.ok(status.deletedTotal >= oldOnly.length, JSON.stringify(status));
  await assertReadable("after the collection");

  // Back to the first config: its deleted blobs are written again, not assumed stored.
  await applyAndWait(config(8080));
  const third = await liveBlobs();
  assert.deepEqual([...third].sort(), [...first].sort(), "same config, same blobs");
  const again = await storedBlobs();
  for (const h of third) assert.ok(again.has(h), `blob ${h} of the restored config is in KV`);
  await assertReadable("after flipping back");

  const metrics = await rw.worker.fetch("/v1/metrics", { headers: bearer(ca.adminToken) });
  const text = await metrics.text();
  assert.match(text, /^strait_snapshot_blobs_live \d+$/m);
  assert.match(text, /^strait_snapshot_blobs_deleted \d+$/m);
});

test("a blob no manifest references, written around the publisher, is found by the periodic sweep and deleted; the restarted publisher starts no run for it", async () => {
  const live = await liveBlobs();
  const runsBefore = ((await control.api("/v1/publish/status", { token: ca.adminToken })).body.publisher as Json).runs as number;
  const stray = "0".repeat(64);
  await (await kv()).put(`blob:${stray}`, new Uint8Array([1, 2, 3]));
  await rw.restartAfter(async () => {});
  // Any call wakes the publisher; its alarm (kept across the restart) brings the next sweep.
  await publisherBlobs();
  await until("the stray blob is deleted", async () => !(await storedBlobs()).has(stray));
  const inKv = await storedBlobs();
  for (const h of live) assert.ok(inKv.has(h), `live blob ${h} stays`);
  const status = await publisherBlobs();
  assert.ok(status.lastSweepAt !== null, JSON.stringify(status));
  await assertReadable("after the sweep");
  const publisher = (await control.api("/v1/publish/status", { token: ca.adminToken })).body.publisher as Json;
  assert.equal(publisher.runs, runsBefore, "the collector's alarms alone start no publish run");
});
