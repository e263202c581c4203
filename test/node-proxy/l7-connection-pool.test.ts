/**
 * DestinationRule `connectionPool` connection settings, end to end through the outbound proxy and
 * the real control worker: `http.maxRequestsPerConnection` and `http.idleTimeout` observed as
 * upstream connections at a server outside the mesh (dialled directly), and `tcp.connectTimeout`
 * answering 503 UF while an HBONE peer that never completes its handshake still holds the socket.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { TestMesh, eventually, viaProxy, type ProxyNode } from "../support/node-proxy-mesh.ts";

const NS = "shop";
let mesh: TestMesh;
let a: ProxyNode;
let upstream: http.Server;
let upstreamPort = 0;
/** Remote port (= upstream connection) of every request, by Host. */
const seen = new Map<string, number[]>();
let silent: net.Server;
const silentSockets = new Set<net.Socket>();

function external(name: string, port: number, connectionPool: string): string {
  return `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: ${NS}}
spec:
  hosts: [${name}.example.com]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 127.0.0.1, ports: {http: ${port}}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: ${NS}}
spec:
  host: ${name}.example.com
  trafficPolicy: {connectionPool: ${connectionPool}}
`;
}

before(async () => {
  upstream = http.createServer((req, res) => {
    const host = req.headers.host ?? "";
    const list = seen.get(host) ?? [];
    list.push(req.socket.remotePort ?? 0);
    seen.set(host, list);
    res.writeHead(200, { "content-type": "text/plain", "content-length": "2" }).end("ok");
  });
  upstream.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  upstreamPort = (upstream.address() as net.AddressInfo).port;
  // Accepts TCP and never answers: a TLS handshake to it never completes.
  silent = net.createServer((s) => {
    silentSockets.add(s);
    s.on("error", () => undefined);
    s.once("close", () => silentSockets.delete(s));
  });
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
  const silentPort = (silent.address() as net.AddressInfo).port;

  mesh = await TestMesh.start();
  a = await mesh.startNode("c1", "a");
  await mesh.apply(
    [
      `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: sleep, namespace: ${NS}, labels: {strait.io/cluster: c1, strait.io/node: a}}
spec: {address: 127.0.0.1, serviceAccount: sleep}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: stuck, namespace: ${NS}, labels: {strait.io/cluster: c1, strait.io/node: b}}
spec: {address: 127.0.0.1, serviceAccount: stuck, ports: {http: 9}, labels: {app: stuck, strait.io/hbone-port: "${silentPort}"}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: stuck, namespace: ${NS}}
spec:
  hosts: [stuck.${NS}.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: stuck}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: stuck, namespace: ${NS}}
spec:
  host: stuck.${NS}.svc.cluster.local
  trafficPolicy: {connectionPool: {tcp: {connectTimeout: 0.3s}}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: stuck, namespace: ${NS}}
spec:
  hosts: [stuck.${NS}.svc.cluster.local]
  http: [{route: [{destination: {host: stuck.${NS}.svc.cluster.local}}], retries: {attempts: 0}}]
`,
      external("plain", upstreamPort, "{tcp: {maxConnections: 100}}"),
      external("onceonly", upstreamPort, "{http: {maxRequestsPerConnection: 1}}"),
      external("shortidle", upstreamPort, "{http: {idleTimeout: 0.2s}}"),
    ].join(""),
  );
  await eventually("config applied", () => {
    const v = a.proxy.config.current();
    return v !== undefined && v.snapshot.destinationRules.length >= 4 && v.snapshot.routes.some((r) => r.host.startsWith("stuck."));
  }, 60_000);
});

after(async () => {
  await mesh?.close();
  upstream?.closeAllConnections();
  await new Promise<void>((r) => (upstream ? upstream.close(() => r()) : r()));
  for (const s of silentSockets) s.destroy();
  await new Promise<void>((r) => (silent ? silent.close(() => r()) : r()));
});

async function calls(host: string, n: number, pauseMs = 0): Promise<number[]> {
  for (let i = 0; i < n; i++) {
    const r = await viaProxy(a.port("outbound"), host, "/");
    assert.equal(r.status, 200, r.body);
    if (pauseMs > 0) await sleep(pauseMs);
  }
  return seen.get(host) ?? [];
}

test("without connection settings, sequential requests reuse one upstream connection", async () => {
  const ports = await calls("plain.example.com", 5);
  assert.equal(new Set(ports).size, 1, JSON.stringify(ports));
});

test("http.maxRequestsPerConnection: 1 opens a new upstream connection per request", async () => {
  const ports = await calls("onceonly.example.com", 5);
  assert.equal(new Set(ports).size, 5, JSON.stringify(ports));
});

test("http.idleTimeout closes an idle upstream connection; the next request opens a new one", async () => {
  const ports = await calls("shortidle.example.com", 3, 700);
  assert.equal(new Set(ports).size, 3, JSON.stringify(ports));
});

test("tcp.connectTimeout: an HBONE peer that never completes the handshake is answered 503 UF", async () => {
  const r = await viaProxy(a.port("outbound"), `stuck.${NS}.svc.cluster.local`, "/");
  assert.equal(r.status, 503);
  assert.equal(r.headers["x-envoy-response-flags"], "UF");
  // The answer came from the cluster's 0.3 s connect timeout, not from the connector giving up
  // (its own limit is 10 s and it would have closed the connection): the peer still holds it.
  assert.ok(silentSockets.size >= 1, "the stuck peer's connection is still open");
});
