/**
 * Load balancing and the remaining L7 features end to end through two proxies and the real
 * control worker: consistentHash on a cookie (generated with a ttl, then sticky) and on the source
 * IP, LEAST_REQUEST (a slow endpoint gets fewer requests), RANDOM, fault delay (flag DI in the
 * access log), and PeerAuthentication DISABLE on the plaintext inbound.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TestMesh, eventually, rawExchange, startEcho, viaProxy, type EchoWorkload, type ProxyNode } from "../support/node-proxy-mesh.ts";

const NS = "shop";
const host = (n: string) => `${n}.${NS}.svc.cluster.local`;
let mesh: TestMesh;
let a: ProxyNode;
let b: ProxyNode;
let logDir: string;
const w: Record<string, EchoWorkload> = {};

function we(name: string, port: number, app: string, hb: number): string {
  return `---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${name}, namespace: ${NS}, labels: {strait.io/cluster: c1, strait.io/node: b}}
spec: {address: 127.0.0.1, serviceAccount: ${app}, ports: {http: ${port}}, labels: {app: ${app}, strait.io/hbone-port: "${hb}"}}
`;
}
function svc(app: string, lb?: string): string {
  return `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${app}, namespace: ${NS}}
spec:
  hosts: [${host(app)}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: ${app}}}
${lb === undefined ? "" : `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${app}, namespace: ${NS}}
spec:
  host: ${host(app)}
  trafficPolicy: {loadBalancer: ${lb}}
`}`;
}

before(async () => {
  logDir = await mkdtemp(join(tmpdir(), "strait-l7-lb-"));
  const names = ["cookie-1", "cookie-2", "src-1", "src-2", "lr-fast", "lr-slow", "rnd-1", "rnd-2", "delayed", "open"];
  for (const n of names) w[n] = await startEcho(n);
  w["lr-slow"]!.delayMs = 300;
  mesh = await TestMesh.start();
  a = await mesh.startNode("c1", "a", { accessLog: join(logDir, "a.log") });
  b = await mesh.startNode("c1", "b");
  const hb = b.port("hbone");
  await mesh.apply(
    [
      `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: sleep, namespace: ${NS}, labels: {strait.io/cluster: c1, strait.io/node: a}}
spec: {address: 127.0.0.1, serviceAccount: sleep}
`,
      ...names.map((n) => we(n, w[n]!.port, n.replace(/-.*$/, ""), hb)),
      svc("cookie", "{consistentHash: {httpCookie: {name: lbuser, ttl: 3600s}}}"),
      svc("src", "{consistentHash: {useSourceIp: true}}"),
      svc("lr", "{simple: LEAST_REQUEST}"),
      svc("rnd", "{simple: RANDOM}"),
      svc("delayed"),
      svc("open"),
      `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: delayed, namespace: ${NS}}
spec:
  hosts: [${host("delayed")}]
  http: [{fault: {delay: {fixedDelay: 0.3s, percentage: {value: 100}}}, route: [{destination: {host: ${host("delayed")}}}]}]
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: open, namespace: ${NS}}
spec:
  selector: {matchLabels: {app: open}}
  mtls: {mode: DISABLE}
`,
    ].join(""),
  );
  await eventually("config applied", () => {
    const va = a.proxy.config.current();
    const vb = b.proxy.config.current();
    return va !== undefined && va.snapshot.destinationRules.length >= 4 && va.snapshot.routes.some((r) => r.host === host("delayed")) && (vb?.snapshot.peerAuthentications.length ?? 0) >= 1 && (vb?.snapshot.workloads.length ?? 0) >= names.length;
  }, 60_000);
});

after(async () => {
  await mesh?.close();
  for (const e of Object.values(w)) await e.close();
  await rm(logDir, { recursive: true, force: true });
});

const call = (svcName: string, headers: Record<string, string> = {}) => viaProxy(a.port("outbound"), host(svcName), "/", { headers });
const workloadOf = (body: string) => (JSON.parse(body) as { workload: string }).workload;

test("consistentHash on a cookie: the proxy sets it (ttl), and the cookie keeps the caller on one endpoint", async () => {
  const first = await call("cookie");
  assert.equal(first.status, 200);
  const setCookie = first.headers["set-cookie"]?.[0] ?? "";
  const m = /^lbuser=([^;]+);.*Max-Age=3600/.exec(setCookie);
  assert.ok(m, `set-cookie: ${setCookie}`);
  const stuck = new Set<string>([workloadOf(first.body)]);
  for (let i = 0; i < 10; i++) stuck.add(workloadOf((await call("cookie", { cookie: `lbuser=${m[1]}` })).body));
  assert.equal(stuck.size, 1, [...stuck].join(","));
  // Different cookie values spread over both endpoints.
  const spread = new Set<string>();
  for (let i = 0; i < 40 && spread.size < 2; i++) spread.add(workloadOf((await call("cookie", { cookie: `lbuser=user-${i}` })).body));
  assert.equal(spread.size, 2);
});

test("consistentHash on the source IP: one caller address stays on one endpoint", async () => {
  const seen = new Set<string>();
  for (let i = 0; i < 12; i++) seen.add(workloadOf((await call("src")).body));
  assert.equal(seen.size, 1, [...seen].join(","));
});

test("LEAST_REQUEST: a slow endpoint with requests in flight gets fewer new ones", async () => {
  // Four callers in a loop: with LEAST_REQUEST a new request avoids the endpoint still holding
  // one (round robin would split them evenly).
  const counts = new Map<string, number>();
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let i = 0; i < 10; i++) {
        const r = await call("lr");
        assert.equal(r.status, 200);
        const n = workloadOf(r.body);
        counts.set(n, (counts.get(n) ?? 0) + 1);
      }
    }),
  );
  assert.ok((counts.get("lr-fast") ?? 0) > (counts.get("lr-slow") ?? 0), JSON.stringify([...counts]));
});

test("RANDOM reaches every endpoint", async () => {
  const seen = new Set<string>();
  for (let i = 0; i < 40 && seen.size < 2; i++) seen.add(workloadOf((await call("rnd")).body));
  assert.deepEqual([...seen].sort(), ["rnd-1", "rnd-2"]);
});

test("fault delay: the request is delayed, then served; the access log says DI", async () => {
  const r = await call("delayed", { "x-request-id": "delay-probe-1" });
  assert.equal(r.status, 200);
  assert.equal(w.delayed!.requests.length >= 1, true);
  const line = await eventually("access log line", async () => {
    const text = await readFile(join(logDir, "a.log"), "utf8").catch(() => "");
    return text.split("\n").filter((l) => l.includes("delay-probe-1"))[0];
  });
  const entry = JSON.parse(line) as { response_flags: string; response_code: number };
  assert.equal(entry.response_flags, "DI");
  assert.equal(entry.response_code, 200);
});

test("PeerAuthentication DISABLE: plaintext inbound is served, reported as connection_security_policy none", async () => {
  const r = await rawExchange(b.port("inboundPlaintext"), `GET /plain HTTP/1.1\r\nhost: ${host("open")}\r\nconnection: close\r\n\r\n`);
  assert.match(r.text, /^HTTP\/1\.1 200/);
  assert.match(r.text, /"workload":"open"/);
  const m = await b.metricsText();
  assert.match(m, /istio_requests_total\{[^}]*connection_security_policy="none"[^}]*\} [1-9]/);
});
