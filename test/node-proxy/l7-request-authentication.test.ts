/**
 * RequestAuthentication executed by the destination's node proxy (inbound), end to end through two
 * proxies and the real control worker: a valid token passes and its claim is copied to a header,
 * an invalid one is a 401 (UAEX) that never reaches the workload, a request without a token is
 * anonymous, and a CORS preflight passes without a token check even with a bad token (Istio sets
 * jwt_authn `bypass_cors_preflight`).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import { TestMesh, eventually, startEcho, viaProxy, type EchoWorkload, type ProxyNode } from "../support/node-proxy-mesh.ts";

const NS = "shop";
const HOST = `api.${NS}.svc.cluster.local`;
const ISSUER = "https://issuer.strait.test";
let mesh: TestMesh;
let a: ProxyNode;
let b: ProxyNode;
let api: EchoWorkload;
let privateKey: CryptoKey;
let otherKey: CryptoKey;

async function token(key: CryptoKey, claims: Record<string, unknown> = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ group: "admins", ...claims }).setProtectedHeader({ alg: "ES256", kid: "k1" }).setIssuer(ISSUER).setSubject("alice").setIssuedAt(now).setExpirationTime(now + 600).sign(key);
}

before(async () => {
  const pair = await generateKeyPair("ES256", { extractable: true });
  privateKey = pair.privateKey;
  otherKey = (await generateKeyPair("ES256")).privateKey;
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256", use: "sig" }] });
  mesh = await TestMesh.start();
  api = await startEcho("api");
  a = await mesh.startNode("c1", "a");
  b = await mesh.startNode("c1", "b");
  const hb = b.port("hbone");
  await mesh.apply(`apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: sleep, namespace: ${NS}, labels: {strait.io/cluster: c1, strait.io/node: a}}
spec: {address: 127.0.0.1, serviceAccount: sleep}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: api, namespace: ${NS}, labels: {strait.io/cluster: c1, strait.io/node: b}}
spec: {address: 127.0.0.1, serviceAccount: api, ports: {http: ${api.port}}, labels: {app: api, strait.io/hbone-port: "${hb}"}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: ${NS}}
spec:
  hosts: [${HOST}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: api}}
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: api-jwt, namespace: ${NS}}
spec:
  selector: {matchLabels: {app: api}}
  jwtRules:
  - issuer: ${ISSUER}
    jwks: '${jwks}'
    outputClaimToHeaders: [{header: x-jwt-group, claim: group}]
`);
  await eventually("RequestAuthentication at the destination", () => (b.proxy.config.current()?.snapshot.requestAuthentications.length ?? 0) > 0, 60_000);
  await eventually("the service reachable through the source's proxy", async () => (await viaProxy(a.port("outbound"), HOST, "/warmup")).status === 200, 60_000);
});

after(async () => {
  await mesh?.close();
  await api?.close();
});

const call = (path: string, o: Parameters<typeof viaProxy>[3] = {}) => viaProxy(a.port("outbound"), HOST, path, o);
const seen = (path: string) => api.requests.filter((r) => r.path === path);

test("a valid token passes and its claim is copied to a header (outputClaimToHeaders)", async () => {
  const r = await call("/valid", { headers: { authorization: `Bearer ${await token(privateKey)}` } });
  assert.equal(r.status, 200, r.body);
  const [req] = seen("/valid");
  assert.equal(req?.headers["x-jwt-group"], "admins");
});

test("an invalid token (another key) is a 401 at the destination's proxy and never reaches the workload", async () => {
  const r = await call("/invalid", { headers: { authorization: `Bearer ${await token(otherKey)}` } });
  assert.equal(r.status, 401, r.body);
  assert.equal(seen("/invalid").length, 0);
});

test("no token: anonymous, passes (RequestAuthentication alone does not require one)", async () => {
  const r = await call("/anonymous");
  assert.equal(r.status, 200, r.body);
  assert.equal(seen("/anonymous")[0]?.headers["x-jwt-group"], undefined);
});

test("a CORS preflight passes without a token check, even with a bad token (bypass_cors_preflight); a plain OPTIONS with it does not", async () => {
  const bad = `Bearer ${await token(otherKey)}`;
  const pre = await call("/preflight", { method: "OPTIONS", headers: { authorization: bad, origin: "https://app.example", "access-control-request-method": "POST" } });
  assert.equal(pre.status, 200, pre.body);
  assert.equal(seen("/preflight").length, 1);
  const plain = await call("/options", { method: "OPTIONS", headers: { authorization: bad } });
  assert.equal(plain.status, 401, plain.body);
  // An empty Access-Control-Request-Method is not a preflight (Envoy's test).
  const empty = await call("/options", { method: "OPTIONS", headers: { authorization: bad, origin: "https://app.example", "access-control-request-method": "" } });
  assert.equal(empty.status, 401, empty.body);
  assert.equal(seen("/options").length, 0);
});
