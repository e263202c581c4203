/**
 * Node eviction (SPIRE's `agent evict`) and snapshot targets that go away, in real workerd:
 * `DELETE /v1/identity/nodes?spiffeId=` removes the attestation record, the node's credentials
 * stop working for node calls, and the publisher takes the node's target down (KV manifest copy,
 * head, status row). A target whose WorkloadEntries all went is taken down the same way. A node
 * attested again continues after its last version, so a proxy's versions never go back.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startControlWorker, type StartedWorker } from "../support/control-worker.ts";
import { createThrowawayCa, type ThrowawayCa } from "../support/throwaway-ca.ts";
import { bearer, callApi, controlClient } from "../support/control-client.ts";
import { attestKeyed, renewalBody } from "../support/identity-renewal.ts";
import { opensslCsr } from "../support/throwaway-ca.ts";
import { blobHashes, type SnapshotManifest } from "../../src/core/snapshot/snapshot-layout.ts";

let w: StartedWorker;
let ca: ThrowawayCa;
type Json = Record<string, any>;
const { api, attest } = controlClient<Json>(() => w, () => ca.adminToken);

const TD = "strait.local";
const nodeId = (node: string) => `spiffe://${TD}/node/c1/${node}`;

const CONFIG = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 9080, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: reviews}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-1, namespace: shop, labels: {strait.io/cluster: c1, strait.io/node: a}}
spec: {address: 10.0.0.1, serviceAccount: reviews, labels: {app: reviews}, ports: {http: 8080}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-2, namespace: shop, labels: {strait.io/cluster: c1, strait.io/node: w}}
spec: {address: 10.0.0.2, serviceAccount: reviews, labels: {app: reviews}, ports: {http: 8080}}
`;

async function applyAndWait(yaml: string, method = "POST", path = "/v1/apply?wait=30"): Promise<Json> {
  const r = await w.fetch(path, { method, headers: bearer(ca.adminToken, "application/yaml"), ...(method === "POST" ? { body: yaml } : {}) });
  const body = (await r.json()) as Json;
  assert.equal(r.status, 200, JSON.stringify(body));
  return body;
}

/** Polls until `check` holds (publishing is asynchronous), bounded. */
async function eventually(what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function targets(): Promise<string[]> {
  const s = await api("/v1/publish/status", { token: ca.adminToken });
  assert.equal(s.status, 200, s.text);
  return (s.body.targets as Json[]).map((t) => t.target as string).sort();
}

before(async () => {
  ca = await createThrowawayCa();
  w = await startControlWorker({ vars: { ...ca.vars, SNAPSHOT_LONGPOLL_MAX_SECONDS: "5" } });
});
after(async () => {
  await w?.dispose();
});

describe("node eviction", () => {
  test("an evicted node is refused, its target is taken down, and attesting again continues its versions", async () => {
    const a = await attest("c1", "a");
    const z = await attestKeyed(w, ca.adminToken, "c1", "z");
    await applyAndWait(CONFIG);
    const first = await w.fetch("/v1/snapshots/nodes/c1/z", { headers: bearer(z.jwt) });
    assert.equal(first.status, 200, await first.clone().text());
    const firstBody = (await first.json()) as Json;
    const zVersion = firstBody.version as number;
    const manifest = JSON.parse(Buffer.from(String(firstBody.jws).split(".")[1]!, "base64url").toString("utf8")) as SnapshotManifest;
    const blob = blobHashes(manifest)[0]!;
    assert.equal((await w.fetch(`/v1/snapshots/blobs/${blob}`, { headers: bearer(z.jwt) })).status, 200, "before eviction the node reads its blobs");
    // A renewal prepared before the eviction (nonce and proof of possession), sent after it.
    const renewal = await renewalBody(w, z);
    const kv = await w.kv("CONFIG");
    await eventually("node z's manifest is copied to KV", async () => (await kv.get("manifest:node:c1/z", "text")) !== null);
    assert.deepEqual(await targets(), ["gateway", "node:c1/a", "node:c1/w", "node:c1/z"]);

    const evicted = await api(`/v1/identity/nodes?spiffeId=${encodeURIComponent(z.spiffeId)}`, { token: ca.adminToken, method: "DELETE" });
    assert.equal(evicted.status, 200, evicted.text);
    assert.equal(evicted.body.evicted, nodeId("z"));

    const listed = await api("/v1/identity/nodes", { token: ca.adminToken });
    assert.deepEqual((listed.body.nodes as Json[]).map((n) => n.spiffeId), [a.spiffeId]);
    // Its credentials no longer act as a node: snapshot and blob reads, workload SVIDs, renewal.
    const refused = await w.fetch("/v1/snapshots/nodes/c1/z", { headers: bearer(z.jwt) });
    assert.equal(refused.status, 401);
    assert.match(await refused.text(), /not attested/);
    const blobRead = await w.fetch(`/v1/snapshots/blobs/${blob}`, { headers: bearer(z.jwt) });
    assert.equal(blobRead.status, 401, await blobRead.text());
    const svids = await callApi<Json>(w, "/v1/identity/svids", { token: z.jwt, json: { requests: [{ spiffeId: `spiffe://${TD}/ns/shop/sa/reviews`, csr: await opensslCsr() }] } });
    assert.equal(svids.status, 401, svids.text);
    assert.match(svids.text, /not attested/);
    const nonce = await callApi<Json>(w, "/v1/identity/renew/nonce", { method: "POST", token: z.jwt });
    assert.equal(nonce.status, 401, nonce.text);
    const renewed = await callApi<Json>(w, "/v1/identity/renew", { json: renewal.body });
    assert.ok(renewed.status === 401 || renewed.status === 403, `renewal after eviction: ${renewed.status} ${renewed.text}`);
    assert.match(renewed.text, /node spiffe:\/\/[^ ]+ is not attested \(evicted\?\); attest again/);
    // The other node is untouched.
    assert.equal((await w.fetch("/v1/snapshots/nodes/c1/a", { headers: bearer(a.jwt) })).status, 200);

    // The publisher takes the target down: KV copy deleted, head gone, status row gone.
    await eventually("node z's target is removed", async () => !(await targets()).includes("node:c1/z"));
    await eventually("node z's KV manifest is deleted", async () => (await kv.get("manifest:node:c1/z", "text")) === null);
    assert.notEqual(await kv.get("manifest:node:c1/a", "text"), null, "other targets keep their KV copy");
    // Asked without a version: answered as soon as a run finds no such target (not after the first-publish wait).
    const gone = await api("/v1/snapshots/nodes/c1/z", { token: ca.adminToken });
    assert.equal(gone.status, 404, gone.text);

    const audit = await api(`/v1/audit?action=identity.evict&target=${encodeURIComponent(nodeId("z"))}`, { token: ca.adminToken });
    assert.equal(audit.body.events.length, 1);
    assert.equal(audit.body.events[0].outcome, "success");

    // Attested again (a new join token): it reads a snapshot whose version is after the last one it had.
    const again = await attest("c1", "z");
    const back = await w.fetch(`/v1/snapshots/nodes/c1/z?wait=5`, { headers: { ...bearer(again.jwt), "if-none-match": `"${zVersion}"` } });
    assert.equal(back.status, 200, await back.clone().text());
    const backVersion = ((await back.json()) as Json).version as number;
    assert.ok(backVersion > zVersion, `version ${backVersion} after re-attestation continues after ${zVersion}`);
    await eventually("node z's target is back", async () => (await targets()).includes("node:c1/z"));
  });

  test("a node evicted while WorkloadEntries are placed on it is refused, and its target stays for its next proxy", async () => {
    const listed = await api("/v1/identity/nodes", { token: ca.adminToken });
    const a = (listed.body.nodes as Json[]).find((n) => n.spiffeId === nodeId("a"))!;
    assert.ok(a !== undefined);
    const evicted = await api(`/v1/identity/nodes?spiffeId=${encodeURIComponent(nodeId("a"))}`, { token: ca.adminToken, method: "DELETE" });
    assert.equal(evicted.status, 200, evicted.text);
    // A run after the eviction (this write) still compiles node a: reviews-1 is placed on it.
    await applyAndWait(`apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: after-eviction, namespace: shop}
spec: {hosts: [after-eviction], location: MESH_INTERNAL, resolution: STATIC, ports: [{number: 80, name: http, protocol: HTTP}], endpoints: [{address: 10.0.0.9}]}
`);
    assert.ok((await targets()).includes("node:c1/a"), "the target stays while WorkloadEntries are placed on the node");
    const kv = await w.kv("CONFIG");
    assert.notEqual(await kv.get("manifest:node:c1/a", "text"), null);
    // Nobody reads it as the node until a node attests as c1/a again.
    const again = await attest("c1", "a");
    const read = await w.fetch("/v1/snapshots/nodes/c1/a", { headers: bearer(again.jwt) });
    assert.equal(read.status, 200, await read.clone().text());
    await read.body?.cancel();
  });

  test("a target whose WorkloadEntries all went is taken down", async () => {
    const kv = await w.kv("CONFIG");
    await eventually("node w's manifest is in KV", async () => (await kv.get("manifest:node:c1/w", "text")) !== null);
    const r = await w.fetch("/apis/networking.istio.io/v1/namespaces/shop/workloadentries/reviews-2", { method: "DELETE", headers: bearer(ca.adminToken) });
    assert.equal(r.status, 200, await r.text());
    await eventually("node w's target is removed", async () => !(await targets()).includes("node:c1/w"));
    await eventually("node w's KV manifest is deleted", async () => (await kv.get("manifest:node:c1/w", "text")) === null);
    const status = await api("/v1/publish/status", { token: ca.adminToken });
    assert.equal(status.body.publisher.targets, (await targets()).length, "the publisher holds a head for exactly the live targets");
  });

  test("bad eviction requests are 4xx naming the field, and change nothing", async () => {
    const before = await api("/v1/identity/nodes", { token: ca.adminToken });
    const cases: [string, number, RegExp][] = [
      ["/v1/identity/nodes", 400, /spiffeId: query parameter is required/],
      [`/v1/identity/nodes?spiffeId=${encodeURIComponent(`spiffe://${TD}/ns/shop/sa/web`)}`, 400, /spiffeId: must be a node SPIFFE ID/],
      [`/v1/identity/nodes?spiffeId=${encodeURIComponent("spiffe://other.example/node/c1/a")}`, 400, /spiffeId/],
      [`/v1/identity/nodes?spiffeId=not-a-uri`, 400, /spiffeId/],
      [`/v1/identity/nodes?spiffeId=${encodeURIComponent(nodeId("never"))}`, 404, /spiffeId: node .* is not attested/],
    ];
    for (const [path, status, message] of cases) {
      const r = await api(path, { token: ca.adminToken, method: "DELETE" });
      assert.equal(r.status, status, `${path}: ${r.text}`);
      assert.equal(r.body.error?.field, "spiffeId", r.text);
      assert.match(r.text, message);
    }
    const a = (before.body.nodes as Json[])[0]!;
    const node = await attest("c1", "b");
    const asNode = await w.fetch(`/v1/identity/nodes?spiffeId=${encodeURIComponent(a.spiffeId)}`, { method: "DELETE", headers: bearer(node.jwt) });
    assert.equal(asNode.status, 403);
    const anonymous = await w.fetch(`/v1/identity/nodes?spiffeId=${encodeURIComponent(a.spiffeId)}`, { method: "DELETE" });
    assert.equal(anonymous.status, 401);
    const after = await api("/v1/identity/nodes", { token: ca.adminToken });
    assert.ok((after.body.nodes as Json[]).some((n) => n.spiffeId === a.spiffeId), "a refused eviction evicts nothing");
  });
});
