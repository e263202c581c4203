/**
 * Publishing off the request path, in real workerd: a write answers with its revision and the
 * publisher object publishes after it; bursts coalesce into a handful of runs and converge on the
 * newest revision; waiting long-polls are answered by the publisher as soon as a version lands
 * (HTTP contract kept: If-None-Match, ?wait=, 304).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startControlWorker, type StartedWorker } from "../support/control-worker.ts";
import { createThrowawayCa, type ThrowawayCa } from "../support/throwaway-ca.ts";
import { bearer, controlClient } from "../support/control-client.ts";
import { snapshotReader } from "../support/snapshot-client.ts";
import type { NodeSnapshot } from "../../src/core/snapshot/snapshot-model.ts";

let w: StartedWorker;
let ca: ThrowawayCa;
type Json = Record<string, any>;
const { api, attest } = controlClient<Json>(() => w, () => ca.adminToken);

const se = (name: string, ns = "shop") => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: ${ns}}
spec: {hosts: [${name}], location: MESH_INTERNAL, resolution: STATIC, ports: [{number: 80, name: http, protocol: HTTP}], endpoints: [{address: 10.0.0.1}]}`;
const we = (name: string, node: string, port: number) => `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${name}, namespace: shop, labels: {strait.io/cluster: c1, strait.io/node: ${node}}}
spec: {address: 10.0.1.1, serviceAccount: ${name}, labels: {app: ${name}}, ports: {http: ${port}}}`;

async function applyYaml(yaml: string, query = ""): Promise<{ status: number; body: Json; headers: Headers }> {
  const r = await w.fetch(`/v1/apply${query}`, { method: "POST", headers: bearer(ca.adminToken, "application/yaml"), body: yaml });
  return { status: r.status, body: (await r.json()) as Json, headers: r.headers };
}

before(async () => {
  ca = await createThrowawayCa();
  w = await startControlWorker({ vars: { ...ca.vars, SNAPSHOT_LONGPOLL_MAX_SECONDS: "20" } });
});
after(async () => {
  await w?.dispose();
});

test("a write answers with its revision; ?wait= answers once the revision is published; status per revision and target", async () => {
  const plain = await applyYaml(se("first"));
  assert.equal(plain.status, 200);
  assert.equal(typeof plain.body.revision, "number");
  assert.equal(plain.body.publish, undefined, "without ?wait= the write does not wait for publishing");
  assert.equal(plain.headers.get("x-strait-revision"), String(plain.body.revision));

  const waited = await applyYaml(se("second"), "?wait=30");
  assert.equal(waited.status, 200);
  assert.equal(waited.body.publish.state, "Published", JSON.stringify(waited.body.publish));
  assert.equal(waited.headers.get("x-strait-publish"), "Published");
  // The earlier revision is covered by the later run: publishing converges on the newest revision.
  const rev = await api(`/v1/revisions/${plain.body.revision}/publish`, { token: ca.adminToken });
  assert.equal(rev.status, 200);
  assert.equal(rev.body.state, "Published");
  assert.deepEqual(rev.body.targets.map((t: Json) => [t.target, t.state]), [["gateway", "Published"]]);
  const status = await api("/v1/publish/status", { token: ca.adminToken });
  assert.equal(status.body.publisher.publishedRevision >= waited.body.revision, true);
  assert.equal(status.body.targets[0].state, "Published");
  const bad = await w.fetch("/v1/apply?wait=soon", { method: "POST", headers: bearer(ca.adminToken, "application/yaml"), body: se("third") });
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as Json).error.field, "wait");
  assert.equal((await api("/apis/networking.istio.io/v1/namespaces/shop/serviceentries/third", { token: ca.adminToken })).status, 404, "a bad ?wait= writes nothing");
});

test("100 applies in a burst become a handful of publish runs and converge on the newest revision", async () => {
  const node = await attest("c1", "burst");
  await applyYaml(we("burst-0", "burst", 1000), "?wait=30");
  const before = (await api("/v1/publish/status", { token: ca.adminToken })).body.publisher.runs as number;
  const started = Date.now();
  let last = 0;
  // 100 writes, 10 in flight at a time; each changes what node "burst" needs.
  for (let i = 0; i < 100; i += 10) {
    const batch = await Promise.all(Array.from({ length: 10 }, (_, j) => applyYaml(we(`burst-${(i + j) % 5}`, "burst", 2000 + i + j))));
    for (const b of batch) {
      assert.equal(b.status, 200, JSON.stringify(b.body));
      last = Math.max(last, b.body.revision as number);
    }
  }
  const elapsed = Date.now() - started;
  const final = await applyYaml(we("burst-final", "burst", 1), "?wait=30");
  assert.equal(final.body.publish.state, "Published");
  const runs = ((await api("/v1/publish/status", { token: ca.adminToken })).body.publisher.runs as number) - before;
  // Runs start at least 200 ms apart: a burst is bounded by its duration, never one run per write.
  assert.ok(runs <= Math.ceil(elapsed / 200) + 3 && runs < 50, `${runs} publish runs for 101 writes in ${elapsed} ms`);
  const v = await snapshotReader<NodeSnapshot>(w, "node:c1/burst", () => node.jwt, "node").poll();
  assert.ok(v !== undefined);
  assert.ok(v.revision >= last, `node snapshot at revision ${v.revision}, last burst write ${last}`);
  const ports = Object.fromEntries(v.snapshot.workloads.map((x) => [x.name, x.ports.http]));
  // The snapshot holds what is stored. Two writes of one entry were in flight at once in each batch
  // (burst-k with 20xx+k and 20xx+k+5), so which landed last is the store's answer, not the loop's.
  const stored: Record<string, number> = {};
  for (const name of ["burst-0", "burst-1", "burst-2", "burst-3", "burst-4", "burst-final"]) {
    const r = await api(`/apis/networking.istio.io/v1/namespaces/shop/workloadentries/${name}`, { token: ca.adminToken });
    assert.equal(r.status, 200, r.text);
    stored[name] = r.body.spec.ports.http as number;
  }
  assert.deepEqual(ports, stored);
  for (let k = 0; k < 5; k++) assert.ok([2090 + k, 2095 + k].includes(stored[`burst-${k}`]!), `burst-${k} holds a port of the last batch: ${stored[`burst-${k}`]}`);
});

test("a waiting long-poll is answered by the publisher with the new version; 304 + ETag when nothing changes", async () => {
  const node = await attest("c1", "push");
  await applyYaml(we("push-1", "push", 1), "?wait=30");
  const reader = snapshotReader<NodeSnapshot>(w, "node:c1/push", () => node.jwt, "node");
  const v1 = await reader.poll();
  assert.ok(v1 !== undefined);

  const quiet = await w.fetch("/v1/snapshots/nodes/c1/push?wait=1", { headers: { ...bearer(node.jwt), "if-none-match": `"${v1.version}"` } });
  assert.equal(quiet.status, 304);
  assert.equal(quiet.headers.get("etag"), `"${v1.version}"`);

  const waiting = reader.poll(v1, { waitSeconds: 20 });
  await new Promise((r) => setTimeout(r, 300));
  const status = await api("/v1/publish/status", { token: ca.adminToken });
  assert.ok(status.body.publisher.waiting >= 1, "the publisher object holds the wait");
  await applyYaml(we("push-1", "push", 2));
  const v2 = await waiting;
  assert.ok(v2 !== undefined && v2.version > v1.version, "answered with the new version");
  assert.equal(v2.snapshot.workloads[0]?.ports.http, 2);
  assert.ok((v2.fetched?.blobs ?? 0) < (v1.fetched?.blobs ?? 0), "the second version fetched fewer blobs");
});

test("blobs: a node reads only blobs of its own manifest; hashes are validated", async () => {
  const a = await attest("c1", "blob-a");
  const b = await attest("c1", "blob-b");
  await applyYaml([we("blob-a-1", "blob-a", 1), we("blob-b-1", "blob-b", 2)].join("\n---\n"), "?wait=30");
  const head = (await api("/v1/snapshots/nodes/c1/blob-a", { token: a.jwt })).body;
  const manifest = JSON.parse(Buffer.from(String(head.jws).split(".")[1]!, "base64url").toString());
  const own = await w.fetch(`/v1/snapshots/blobs/${manifest.base}`, { headers: bearer(a.jwt) });
  assert.equal(own.status, 200);
  assert.equal(JSON.parse(await own.text()).node.node, "blob-a");
  assert.equal((await w.fetch(`/v1/snapshots/blobs/${manifest.base}`, { headers: bearer(b.jwt) })).status, 404, "not in node b's manifest");
  assert.equal((await w.fetch(`/v1/snapshots/blobs/${manifest.base}`)).status, 401);
  const bad = await w.fetch("/v1/snapshots/blobs/not-a-hash", { headers: bearer(a.jwt) });
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as Json).error.field, "hash");
});
