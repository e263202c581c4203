import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { decodeProtectedHeader } from "jose";
import { getPlatformProxy } from "wrangler";
import { join } from "node:path";
import { projectRoot, startControlWorker, type StartedWorker } from "../support/control-worker.ts";
import { createThrowawayCa, opensslCsr, type ThrowawayCa } from "../support/throwaway-ca.ts";
import { bearer, controlClient, applyYaml } from "../support/control-client.ts";
import { bundleKeys, httpSnapshotSource } from "../support/snapshot-client.ts";
import { SnapshotReader } from "../../src/core/snapshot/snapshot-reader.ts";

let w: StartedWorker;
let ca: ThrowawayCa;
const nodes: Record<string, { jwt: string; spiffeId: string }> = {};

const { json, attest } = controlClient<Record<string, any>>(() => w, () => ca.adminToken);
/** Applies and waits until the revision is published (publishing is asynchronous). */
const apply = async (yaml: string) => {
  const out = await applyYaml<Record<string, any>>({ ...w, fetch: (path, init) => w.fetch(path.startsWith("/v1/apply") ? "/v1/apply?wait=30" : path, init) }, ca.adminToken, yaml);
  if (out.revision !== null) assert.equal(out.publish?.state, "Published", JSON.stringify(out.publish));
  return out;
};

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
kind: ServiceEntry
metadata: {name: ratings, namespace: shop}
spec:
  hosts: [ratings]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 9080, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: ratings}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-1, namespace: shop, labels: {strait.io/cluster: c1, strait.io/node: a}}
spec: {address: 10.0.0.1, serviceAccount: reviews, labels: {app: reviews}, ports: {http: 8080}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ratings-1, namespace: shop, labels: {strait.io/cluster: c1, strait.io/node: b}}
spec: {address: 10.0.0.2, serviceAccount: ratings, labels: {app: ratings}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ratings, namespace: shop}
spec:
  hosts: [ratings]
  http: [{route: [{destination: {host: ratings}}]}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: shop}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["shop.example.com"]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop-front, namespace: shop}
spec:
  hosts: [shop.example.com]
  gateways: [edge]
  http:
  - match: [{uri: {prefix: /ratings}}]
    route: [{destination: {host: ratings}}]
  - route: [{destination: {host: reviews}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: reviews-viewer, namespace: shop}
spec:
  selector: {matchLabels: {app: reviews}}
  action: ALLOW
  rules: [{from: [{source: {principals: [cluster.local/ns/shop/sa/web]}}]}]
`;

/** Verifies a snapshot answer like a data plane: manifest signature against the public bundle, then every blob against its hash. */
async function verified(body: Record<string, any>): Promise<{ target: string; version: number; hash: string; snapshot: any }> {
  const header = decodeProtectedHeader(body.jws);
  assert.equal(header.typ, "strait-snapshot+jws");
  assert.equal(header.alg, "ES256");
  const manifest = JSON.parse(Buffer.from(body.jws.split(".")[1], "base64url").toString("utf8"));
  const type = manifest.target === "gateway" ? "gateway" : "node";
  const reader = new SnapshotReader({ source: httpSnapshotSource(w, () => ca.adminToken), target: manifest.target, keys: bundleKeys(w), type });
  const v = await reader.verify(body as any);
  assert.equal(v.version, body.version);
  assert.equal(v.hash, body.hash);
  return v;
}

before(async () => {
  ca = await createThrowawayCa();
  w = await startControlWorker({ vars: { ...ca.vars, SNAPSHOT_LONGPOLL_MAX_SECONDS: "3" } });
  nodes.a = await attest("c1", "a");
  nodes.b = await attest("c1", "b");
  await apply(CONFIG);
});
after(async () => {
  await w?.dispose();
});

describe("snapshots", () => {
  test("the node snapshot is in KV after an apply, signed, and holds only that node's workloads", async () => {
    const proxy = await getPlatformProxy({ configPath: join(projectRoot, "wrangler.toml"), environment: "control", envFiles: [".strait-tests-load-no-env-file"], persist: { path: join(w.persistDir, "v3") }, remoteBindings: false });
    let kvBody: Record<string, any> | null;
    try {
      kvBody = await (proxy.env as { CONFIG: KVNamespace }).CONFIG.get<Record<string, any>>("manifest:node:c1/a", "json");
    } finally {
      await proxy.dispose();
    }
    assert.ok(kvBody !== null, "manifest:node:c1/a is in KV");

    const r = await w.fetch("/v1/snapshots/nodes/c1/a", { headers: bearer(nodes.a!.jwt) });
    assert.equal(r.status, 200);
    const body = await json(r);
    assert.equal(r.headers.get("etag"), `"${body.version}"`);
    assert.equal(body.jws, kvBody.jws);
    const env = await verified(body);
    assert.equal(env.target, "node:c1/a");
    const snap = env.snapshot;
    assert.equal(snap.type, "node");
    assert.deepEqual(snap.workloads.map((x: any) => [x.name, x.spiffeId]), [["reviews-1", `spiffe://${ca.trustDomain}/ns/shop/sa/reviews`]]);
    assert.deepEqual(snap.workloads[0].serves, ["reviews.shop.svc.cluster.local"]);
    assert.deepEqual(snap.inbound.map((s: any) => s.host), ["reviews.shop.svc.cluster.local"]);
    assert.deepEqual(snap.outbound.map((s: any) => s.host), ["ratings.shop.svc.cluster.local", "reviews.shop.svc.cluster.local"]);
    const ratings = snap.outbound[0];
    assert.deepEqual(ratings.endpoints.map((e: any) => [e.address, e.placement, e.spiffeId]), [["10.0.0.2", { cluster: "c1", node: "b" }, `spiffe://${ca.trustDomain}/ns/shop/sa/ratings`]]);
    assert.deepEqual(snap.routes.map((x: any) => x.host), ["ratings.shop.svc.cluster.local"], "gateway-bound VS is not in a node snapshot");
    assert.deepEqual(snap.authorizationPolicies.map((p: any) => [p.source.name, p.appliesTo]), [["reviews-viewer", ["shop/reviews-1"]]]);

    const b = await verified(await json(await w.fetch("/v1/snapshots/nodes/c1/b", { headers: bearer(nodes.b!.jwt) })));
    assert.deepEqual(b.snapshot.workloads.map((x: any) => x.name), ["ratings-1"]);
    assert.deepEqual(b.snapshot.authorizationPolicies, [], "node b runs nothing the policy selects");
  });

  test("the gateway snapshot merges gateway-bound routes per host, catch-alls last", async () => {
    const r = await w.fetch("/v1/snapshots/gateway", { headers: bearer(ca.adminToken) });
    assert.equal(r.status, 200);
    const env = await verified(await json(r));
    const host = env.snapshot.hosts.find((h: any) => h.host === "shop.example.com");
    assert.deepEqual(host.gateways, ["shop/edge"]);
    assert.deepEqual(host.http.map((x: any) => [x.route.route[0].destination.host, x.catchAll]), [
      ["ratings.shop.svc.cluster.local", false],
      ["reviews.shop.svc.cluster.local", true],
    ]);
    assert.equal((await w.fetch("/v1/snapshots/gateway")).status, 401);
    assert.equal((await w.fetch("/v1/snapshots/gateway", { headers: bearer(nodes.a!.jwt) })).status, 403);
  });

  test("node A can never read node B's snapshot; the cluster-less path uses the caller's cluster", async () => {
    assert.equal((await w.fetch("/v1/snapshots/nodes/c1/b", { headers: bearer(nodes.a!.jwt) })).status, 403);
    assert.equal((await w.fetch("/v1/snapshots/nodes/b", { headers: bearer(nodes.a!.jwt) })).status, 403);
    assert.equal((await w.fetch("/v1/snapshots/nodes/c2/a", { headers: bearer(nodes.a!.jwt) })).status, 403);
    assert.equal((await w.fetch("/v1/snapshots/nodes/c1/b")).status, 401);
    const token = await json(await w.fetch("/v1/tokens", { method: "POST", headers: bearer(ca.adminToken), body: JSON.stringify({ subject: "ro", namespaces: ["*"], access: "read" }) }));
    assert.equal((await w.fetch("/v1/snapshots/nodes/c1/b", { headers: bearer(token.token) })).status, 403);
    const own = await w.fetch("/v1/snapshots/nodes/a", { headers: bearer(nodes.a!.jwt) });
    assert.equal(own.status, 200);
    assert.equal((await verified(await json(own))).target, "node:c1/a");
    assert.equal((await w.fetch("/v1/snapshots/nodes/c1/b", { headers: bearer(ca.adminToken) })).status, 200, "admin may read");
    // Node credentials read only their own snapshot: no config reads or writes.
    assert.equal((await w.fetch("/v1/apply", { method: "POST", headers: bearer(nodes.a!.jwt, "application/yaml"), body: CONFIG })).status, 403);
    assert.equal((await w.fetch("/apis/networking.istio.io/v1/namespaces/shop/virtualservices", { headers: bearer(nodes.a!.jwt) })).status, 403);
  });

  test("long-poll: 304 on timeout, an answer as soon as a newer version lands; unchanged targets keep their version", async () => {
    const a0 = await json(await w.fetch("/v1/snapshots/nodes/c1/a", { headers: bearer(nodes.a!.jwt) }));
    const b0 = await json(await w.fetch("/v1/snapshots/nodes/c1/b", { headers: bearer(nodes.b!.jwt) }));

    const t0 = Date.now();
    const timeout = await w.fetch("/v1/snapshots/nodes/c1/a?wait=1", { headers: { ...bearer(nodes.a!.jwt), "if-none-match": `"${a0.version}"` } });
    assert.equal(timeout.status, 304);
    assert.ok(Date.now() - t0 >= 900, "waited for ?wait=1");
    const capped = Date.now();
    const clamped = await w.fetch("/v1/snapshots/nodes/c1/a?wait=100", { headers: { ...bearer(nodes.a!.jwt), "if-none-match": `"${a0.version}"` } });
    assert.equal(clamped.status, 304);
    assert.ok(Date.now() - capped < 10_000, "wait is capped by SNAPSHOT_LONGPOLL_MAX_SECONDS");
    const badWait = await w.fetch("/v1/snapshots/nodes/c1/a?wait=soon", { headers: { ...bearer(nodes.a!.jwt), "if-none-match": `"${a0.version}"` } });
    assert.equal(badWait.status, 400);
    assert.equal((await json(badWait)).error.field, "wait");

    const waiting = w.fetch("/v1/snapshots/nodes/c1/a?wait=3", { headers: { ...bearer(nodes.a!.jwt), "if-none-match": `"${a0.version}"` } });
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    // Changes only what node a needs (its workload's port).
    await apply(CONFIG.split("---")[2]!.replace("ports: {http: 8080}", "ports: {http: 8081}"));
    const answered = await waiting;
    assert.equal(answered.status, 200);
    const a1 = await json(answered);
    assert.ok(a1.version > a0.version);
    assert.ok(Date.now() - started < 3000, "answered before the timeout");
    const env = await verified(a1);
    assert.equal(env.snapshot.workloads[0].ports.http, 8081);

    const bNow = await w.fetch("/v1/snapshots/nodes/c1/b?wait=0", { headers: { ...bearer(nodes.b!.jwt), "if-none-match": `"${b0.version}"` } });
    // Node b sees reviews as an outbound service, whose endpoint port changed: it gets a new version too.
    assert.equal(bNow.status, 200);

    // A change nobody's snapshot depends on (a label on the Gateway resource) keeps node versions.
    await apply(CONFIG.split("---")[5]!.replace("name: edge, namespace: shop}", "name: edge, namespace: shop, labels: {team: edge}}"));
    const still = await w.fetch("/v1/snapshots/nodes/c1/a?wait=0", { headers: { ...bearer(nodes.a!.jwt), "if-none-match": `"${a1.version}"` } });
    assert.equal(still.status, 304, "hash unchanged: no new version");
  });

  test("proxy status: SYNCED, STALE, NOT SENT", async () => {
    const a = await json(await w.fetch("/v1/snapshots/nodes/c1/a", { headers: bearer(nodes.a!.jwt) }));
    const post = await w.fetch("/v1/proxies/status", { method: "POST", headers: bearer(nodes.a!.jwt), body: JSON.stringify({ version: a.version, hash: a.hash }) });
    assert.equal(post.status, 200);
    const bad = await w.fetch("/v1/proxies/status", { method: "POST", headers: bearer(nodes.a!.jwt), body: JSON.stringify({ version: a.version, hash: "nope" }) });
    assert.equal(bad.status, 400);
    assert.equal((await json(bad)).error.field, "hash");
    assert.equal((await w.fetch("/v1/proxies/status", { method: "POST", headers: bearer(ca.adminToken), body: JSON.stringify({ version: 1, hash: a.hash }) })).status, 403);

    const status = async () => Object.fromEntries((await json(await w.fetch("/v1/proxies/status", { headers: bearer(ca.adminToken) }))).proxies.map((p: any) => [p.node, p]));
    let s = await status();
    assert.equal(s["c1/a"].status, "SYNCED");
    assert.equal(s["c1/a"].appliedVersion, a.version);
    assert.equal(s["c1/b"].status, "NOT SENT");
    await apply(CONFIG.split("---")[2]!.replace("ports: {http: 8080}", "ports: {http: 9090}"));
    s = await status();
    assert.equal(s["c1/a"].status, "STALE");
    assert.ok(s["c1/a"].latestVersion > a.version);
  });

  test("a node attested after the last config change gets a snapshot on its first request", async () => {
    const fresh = await attest("c1", "fresh");
    const r = await w.fetch("/v1/snapshots/nodes/c1/fresh", { headers: bearer(fresh.jwt) });
    assert.equal(r.status, 200, await r.clone().text());
    const env = await verified(await json(r));
    assert.equal(env.snapshot.node.spiffeId, fresh.spiffeId);
    assert.deepEqual(env.snapshot.workloads, []);
  });

  test("WorkloadEntry placement registers the identity to its node only", async () => {
    const reviews = `spiffe://${ca.trustDomain}/ns/shop/sa/reviews`;
    const ask = (jwt: string) =>
      opensslCsr().then((csr) => w.fetch("/v1/identity/svids", { method: "POST", headers: bearer(jwt), body: JSON.stringify({ requests: [{ spiffeId: reviews, csr }] }) }));
    assert.equal((await ask(nodes.a!.jwt)).status, 200);
    assert.equal((await ask(nodes.b!.jwt)).status, 403);
  });

  test("the revocation list is in node snapshots", async () => {
    const victim = await attest("c1", "victim");
    const rv = await w.fetch("/v1/identity/revocations", { method: "POST", headers: bearer(ca.adminToken), body: JSON.stringify({ spiffeId: victim.spiffeId, reason: "test" }) });
    assert.equal(rv.status < 300, true, await rv.clone().text());
    await apply(CONFIG.split("---")[2]!.replace("ports: {http: 8080}", "ports: {http: 7070}"));
    const env = await verified(await json(await w.fetch("/v1/snapshots/nodes/c1/a", { headers: bearer(nodes.a!.jwt) })));
    assert.ok(env.snapshot.revocations.some((r: any) => r.spiffeId === victim.spiffeId));
  });
});
