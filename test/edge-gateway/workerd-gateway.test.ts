/**
 * The edge gateway in workerd (Miniflare, with the control worker beside it), end to end through
 * `POST /v1/apply` of Istio YAML against real local upstreams: the shared conformance table, a
 * tampered snapshot refused while the last good one keeps serving, and in-cluster upstreams
 * reached through a node's edge ingress with the gateway's JWT-SVID.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { decodeProtectedHeader, importJWK, jwtVerify, type JWK } from "jose";
import { createThrowawayCa } from "../support/throwaway-ca.ts";
import { startEdgeMesh, type EdgeMesh } from "../support/edge-gateway-mesh.ts";
import { httpRequest, startEchoServer, type EchoServer } from "../support/edge-gateway-upstreams.ts";
import { snapshotKey } from "../../src/edge-gateway/workers/snapshot-source-kv.ts";
import { eventually as retryUntil } from "../support/eventually.ts";
import { GATEWAY_CASES, sender, startFixture, type GatewayFixture } from "./gateway-fixture.ts";

let mesh: EdgeMesh;
let fixture: GatewayFixture;
let admin: string;
let nodeProxy: EchoServer;

async function apply(yaml: string): Promise<{ revision: number }> {
  const r = await mesh.control("/v1/apply", { method: "POST", headers: { authorization: `Bearer ${admin}`, "content-type": "application/yaml" }, body: yaml });
  const text = await r.text();
  assert.equal(r.status, 200, text);
  return JSON.parse(text) as { revision: number };
}

/** Polls until `check` passes (bounded): snapshot pickup is asynchronous by design. */
/** This file's wait for the gateway to pick a change up. */
const eventually = (check: () => Promise<void>, timeoutMs = 20_000) => retryUntil(check, timeoutMs);

async function health(): Promise<{ snapshotVersion: number | null; snapshot: { refused: number; lastError?: { message: string } } }> {
  return (await mesh.gateway("/healthz")).json() as Promise<{ snapshotVersion: number | null; snapshot: { refused: number; lastError?: { message: string } } }>;
}

before(async () => {
  const ca = await createThrowawayCa();
  admin = ca.adminToken;
  fixture = await startFixture();
  nodeProxy = await startEchoServer("node-proxy");
  mesh = await startEdgeMesh({ controlVars: ca.vars, gatewayVars: { ACCESS_LOG: process.env.STRAIT_TEST_ACCESS_LOG ?? "off" } });
  await apply(fixture.yaml);
  const send = sender({ url: mesh.gatewayUrl, runtime: "workerd" });
  await eventually(async () => assert.equal((await send("/app")).status, 200));
});

after(async () => {
  await mesh?.dispose();
  await fixture?.close();
  await nodeProxy?.close();
});

for (const c of GATEWAY_CASES) {
  test(`workerd: ${c.name}`, async () => {
    await c.run(sender({ url: mesh.gatewayUrl, runtime: "workerd" }), fixture);
  });
}

test("workerd: /healthz reports the live snapshot from memory", async () => {
  const h = await health();
  assert.ok((h.snapshotVersion ?? 0) >= 1);
});

test("workerd: a snapshot with a bad signature is refused and the last good one keeps serving", async () => {
  const send = sender({ url: mesh.gatewayUrl, runtime: "workerd" });
  const kv = await mesh.kv();
  const key = snapshotKey("gateway");
  const stored = JSON.parse((await kv.get(key)) ?? "null") as { version: number; jws: string };
  // A newer version under the old signature: whatever the layout, the signature no longer covers the payload.
  const [h, payload, sig] = stored.jws.split(".");
  const signed = JSON.parse(Buffer.from(payload!, "base64url").toString("utf8")) as { version: number };
  signed.version = stored.version + 1;
  const forged = `${h}.${Buffer.from(JSON.stringify(signed)).toString("base64url")}.${sig}`;
  await kv.put(key, JSON.stringify({ ...stored, version: stored.version + 1, jws: forged }));
  await eventually(async () => {
    await send("/app");
    const s = await health();
    assert.ok(s.snapshot.refused >= 1, JSON.stringify(s));
    assert.match(s.snapshot.lastError?.message ?? "", /signature/);
  });
  const r = await send("/app");
  assert.equal(r.status, 200, "the last good snapshot still routes");
  assert.equal((await health()).snapshotVersion, stored.version);
});

test("workerd: in-cluster upstream via the node's edge ingress carries the gateway's JWT-SVID", async () => {
  await apply(`apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata:
  name: ratings-1
  namespace: shop
  labels: { app: ratings, strait.io/cluster: c1, strait.io/node: n1 }
  annotations: { strait.io/edge-ingress: "${nodeProxy.address}" }
spec:
  address: 10.1.2.3
  labels: { app: ratings }
  ports: { http: 9080 }
  serviceAccount: ratings
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ratings, namespace: shop }
spec:
  hosts: ["ratings.shop.svc.cluster.local"]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 80, name: http, protocol: HTTP, targetPort: 9080 }]
  workloadSelector: { labels: { app: ratings } }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ratings, namespace: shop }
spec:
  hosts: ["ratings.example.com"]
  gateways: ["edge"]
  http:
    - route: [{ destination: { host: ratings.shop.svc.cluster.local } }]
`);
  const send = sender({ url: mesh.gatewayUrl, runtime: "workerd" }, "ratings.example.com");
  await eventually(async () => {
    const r = await send("/stars");
    assert.equal(r.status, 200, r.body);
  });
  const seen = nodeProxy.seen.at(-1)!;
  assert.equal(seen.headers["x-strait-edge-target"], "10.1.2.3:9080");
  // Envoy keeps the client's authority unless a rewrite says otherwise.
  assert.equal(seen.headers["x-forwarded-host"], "ratings.example.com");
  const token = String(seen.headers["x-strait-edge-svid"]);
  const bundle = (await (await mesh.control("/.well-known/spiffe-bundle")).json()) as { keys: (Record<string, unknown> & { use?: string })[] };
  const jwtKeys = bundle.keys.filter((k) => k.use === "jwt-svid");
  const kid = decodeProtectedHeader(token).kid;
  assert.ok(jwtKeys.some((k) => k.kid === kid), `token kid ${kid} among the bundle's jwt-svid keys ${JSON.stringify(jwtKeys.map((k) => ({ kid: k.kid, alg: k.alg, crv: k.crv })))}`);
  // A SPIFFE bundle marks keys `use: "jwt-svid"`, which generic JWKS selection skips: import the named key.
  const { use: _use, ...jwk } = jwtKeys.find((k) => k.kid === kid)!;
  const key = await importJWK(jwk as JWK, "ES256");
  const { payload, protectedHeader } = await jwtVerify(token, key, { audience: "spiffe://strait.local/node/c1/n1" });
  assert.equal(payload.sub, "spiffe://strait.local/edge/gateway");
  assert.equal(protectedHeader.typ, "JWT");
  assert.ok((payload.exp ?? 0) - (payload.iat ?? 0) <= 3600);
  // Cached until near expiry: a second request reuses the same token.
  await send("/stars");
  assert.equal(nodeProxy.seen.at(-1)!.headers["x-strait-edge-svid"], token);
});

test("workerd: the gateway SVID is not mintable from any public control route", async () => {
  for (const path of ["/v1/identity/gateway-svid", "/gateway-svid", "/v1/gateway/svid", "/GatewaySvidEntrypoint/mintGatewaySvid"]) {
    const r = await httpRequest(mesh.controlUrl, path, { method: "POST", body: "{}" });
    assert.ok(r.status === 404 || r.status === 401, `${path}: ${r.status}`);
  }
});
