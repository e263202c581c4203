/**
 * Identity at the data plane, with short-lived SVIDs from the real issuer (20 s): SVIDs renewed
 * under load without a failed request; the edge-ingress listener accepting only the edge
 * gateway's JWT-SVID for this node; the plaintext listener honouring PeerAuthentication
 * (STRICT refuses, a port-level PERMISSIVE override accepts).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import { TestMesh, eventually, rawExchange, startEcho, viaProxy, type EchoWorkload, type ProxyNode } from "../support/node-proxy-mesh.ts";
import { mintJwtSvid } from "../../src/identity/jwt-svid.ts";
import { importJwtSigningKey } from "../../src/identity/jwt-key.ts";
import { SpiffeId } from "../../src/identity/spiffe-id.ts";
import { systemClock } from "../../src/core/clock.ts";

const HOST = "echo.shop.svc.cluster.local";
const OPEN = "open.shop.svc.cluster.local";
const ECHO_ID = "spiffe://strait.local/ns/shop/sa/echo";
const SLEEP_ID = "spiffe://strait.local/ns/shop/sa/sleep";
let mesh: TestMesh;
let a: ProxyNode;
let b: ProxyNode;
let echo: EchoWorkload;
let open: EchoWorkload;

before(async () => {
  mesh = await TestMesh.start({ vars: { X509_SVID_TTL_SECONDS: "20" } });
  echo = await startEcho("echo");
  open = await startEcho("open");
  a = await mesh.startNode("c1", "a");
  b = await mesh.startNode("c1", "b");
  const hb = b.port("hbone");
  await mesh.apply(`apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: sleep, namespace: shop, labels: {strait.io/cluster: c1, strait.io/node: a}}
spec: {address: 127.0.0.1, serviceAccount: sleep}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: echo, namespace: shop, labels: {strait.io/cluster: c1, strait.io/node: b}}
spec: {address: 127.0.0.1, serviceAccount: echo, ports: {http: ${echo.port}}, labels: {app: echo, strait.io/hbone-port: "${hb}"}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: open, namespace: shop, labels: {strait.io/cluster: c1, strait.io/node: b}}
spec: {address: 127.0.0.1, serviceAccount: open, ports: {http: ${open.port}}, labels: {app: open, strait.io/hbone-port: "${hb}"}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: echo, namespace: shop}
spec:
  hosts: [${HOST}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: echo}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: open, namespace: shop}
spec:
  hosts: [${OPEN}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: open}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: open, namespace: shop}
spec:
  selector: {matchLabels: {app: open}}
  mtls: {mode: STRICT}
  portLevelMtls: {${open.port}: {mode: PERMISSIVE}}
`);
  await eventually("config applied on both nodes", () => {
    const va = a.proxy.config.current();
    const vb = b.proxy.config.current();
    return va?.snapshot.outbound.some((s) => s.host === HOST) === true && vb?.snapshot.peerAuthentications.length === 1 && vb.snapshot.workloads.length === 2;
  }, 60_000);
});

after(async () => {
  await mesh?.close();
  await echo?.close();
  await open?.close();
});

test("SVIDs renewed under load: new certificates on both sides, no failed request", async () => {
  const serialB = b.proxy.identity.credentialsFor(ECHO_ID)?.serial;
  const serialA = a.proxy.identity.credentialsFor(SLEEP_ID)?.serial;
  assert.ok(serialA && serialB, "both workloads hold SVIDs");
  const statuses = new Map<number, number>();
  let renewed = false;
  const deadline = Date.now() + 45_000;
  const loop = async () => {
    while (!renewed && Date.now() < deadline) {
      const r = await viaProxy(a.port("outbound"), HOST, "/load", { body: "x".repeat(1024) });
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      renewed ||= b.proxy.identity.credentialsFor(ECHO_ID)?.serial !== serialB && a.proxy.identity.credentialsFor(SLEEP_ID)?.serial !== serialA;
    }
  };
  await Promise.all([loop(), loop(), loop(), loop()]);
  assert.ok(renewed, "both SVIDs were renewed within 45 s");
  // Keep the load on a little longer: new connections now use the new certificates.
  const after = await Promise.all(Array.from({ length: 20 }, () => viaProxy(a.port("outbound"), HOST, "/after-renewal")));
  for (const r of after) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
  assert.deepEqual([...statuses.keys()], [200], `statuses: ${JSON.stringify([...statuses])}`);
  assert.ok((statuses.get(200) ?? 0) > 50, "the load ran");
});

describe("edge-ingress listener", () => {
  async function token(o: { sub?: string; audience?: string } = {}): Promise<string> {
    const key = await importJwtSigningKey(mesh.ca.jwtSigningKeyPem);
    const { token: t } = await mintJwtSvid({
      spiffeId: SpiffeId.parse(o.sub ?? "spiffe://strait.local/edge/gateway"),
      audience: [o.audience ?? b.proxy.identity.nodeSpiffeId()],
      key,
      clock: systemClock,
      ttlSeconds: 300,
    });
    return t;
  }

  function edge(headers: Record<string, string>): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request({ host: "127.0.0.1", port: b.port("edgeIngress"), path: "/from-edge", headers: { host: HOST, ...headers } }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString("utf8")));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on("error", reject);
      req.end();
    });
  }

  test("the gateway's JWT-SVID for this node is accepted and the request reaches the workload without it", async () => {
    const r = await edge({ "x-strait-edge-svid": await token(), "x-strait-edge-target": `127.0.0.1:${echo.port}` });
    assert.equal(r.status, 200, r.body);
    const seen = JSON.parse(r.body) as { headers: Record<string, string> };
    assert.equal(seen.headers["x-strait-edge-svid"], undefined, "the token is not forwarded");
    assert.match(seen.headers["x-forwarded-client-cert"] ?? "", /URI=spiffe:\/\/strait\.local\/edge\/gateway/);
  });

  test("no token, another audience, another subject or garbage: 401", async () => {
    const target = { "x-strait-edge-target": `127.0.0.1:${echo.port}` };
    assert.equal((await edge(target)).status, 401);
    assert.equal((await edge({ ...target, "x-strait-edge-svid": await token({ audience: a.proxy.identity.nodeSpiffeId() }) })).status, 401);
    assert.equal((await edge({ ...target, "x-strait-edge-svid": await token({ sub: SLEEP_ID }) })).status, 401);
    assert.equal((await edge({ ...target, "x-strait-edge-svid": "not.a.jwt" })).status, 401);
    assert.equal(echo.requests.filter((r) => r.path === "/from-edge").length, 1, "only the accepted request reached the workload");
  });
});

describe("plaintext listener and PeerAuthentication", () => {
  test("STRICT (the default) refuses plaintext: the connection is closed without an answer", async () => {
    const r = await rawExchange(b.port("inboundPlaintext"), `GET /plain HTTP/1.1\r\nhost: ${HOST}\r\n\r\n`);
    assert.equal(r.text, "");
    assert.ok(r.closed);
    assert.equal(echo.requests.filter((x) => x.path === "/plain").length, 0);
  });

  test("a port-level PERMISSIVE override accepts plaintext, reported as connection_security_policy none", async () => {
    const r = await rawExchange(b.port("inboundPlaintext"), `GET /plain HTTP/1.1\r\nhost: ${OPEN}\r\nx-forwarded-client-cert: URI=spiffe://strait.local/ns/shop/sa/admin\r\nconnection: close\r\n\r\n`);
    assert.match(r.text, /^HTTP\/1\.1 200/);
    assert.match(r.text, /"workload":"open"/);
    assert.doesNotMatch(r.text, /sa\/admin/, "a client-supplied x-forwarded-client-cert never reaches the workload");
    const m = await b.metricsText();
    const line = m.split("\n").find((l) => l.startsWith("istio_requests_total{") && l.includes(OPEN));
    assert.ok(line, m);
    assert.match(line, /connection_security_policy="none"/);
  });
});
