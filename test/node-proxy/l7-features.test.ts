/**
 * VirtualService and DestinationRule features executed by the outbound proxy, end to end through
 * two proxies and the real control worker: header operations, rewrites, redirects, fault
 * aborts, route timeouts, mirrors, consistent hashing; TCP authorization (a denied tunnel is
 * refused); AUDIT policies in the JSON access log with response flags.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { readFile } from "node:fs/promises";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TestMesh, eventually, proxyAuthorization, startEcho, startTcpEcho, viaProxy, type EchoWorkload, type ProxyNode } from "../support/node-proxy-mesh.ts";

const NS = "shop";
const host = (n: string) => `${n}.${NS}.svc.cluster.local`;
let mesh: TestMesh;
let a: ProxyNode;
let b: ProxyNode;
let logDir: string;
const w: Record<string, EchoWorkload> = {};
let tcp: { port: number; close(): Promise<void> };

function we(name: string, port: number, labels: Record<string, string>, hb: number): string {
  return `---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${name}, namespace: ${NS}, labels: {strait.io/cluster: c1, strait.io/node: b}}
spec: {address: 127.0.0.1, serviceAccount: ${labels.app}, ports: {http: ${port}, tcp: ${port}}, labels: ${JSON.stringify({ ...labels, "strait.io/hbone-port": String(hb) })}}
`;
}
function se(name: string, port = 80, protocol = "HTTP"): string {
  return `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: ${NS}}
spec:
  hosts: [${host(name)}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: ${port}, name: ${protocol.toLowerCase()}, protocol: ${protocol}}]
  workloadSelector: {labels: {app: ${name}}}
`;
}

before(async () => {
  logDir = await mkdtemp(join(tmpdir(), "strait-l7-logs-"));
  mesh = await TestMesh.start();
  for (const n of ["web", "mirror", "hash-1", "hash-2", "slowweb"]) w[n] = await startEcho(n);
  tcp = await startTcpEcho("db");
  a = await mesh.startNode("c1", "a", { accessLog: join(logDir, "a.log") });
  b = await mesh.startNode("c1", "b", { accessLog: join(logDir, "b.log") });
  const hb = b.port("hbone");
  await mesh.apply(
    [
      `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: sleep, namespace: ${NS}, labels: {strait.io/cluster: c1, strait.io/node: a}}
spec: {address: 127.0.0.1, serviceAccount: sleep}
`,
      we("web", w.web!.port, { app: "web" }, hb),
      we("mirror", w.mirror!.port, { app: "mirror" }, hb),
      we("hash-1", w["hash-1"]!.port, { app: "hash" }, hb),
      we("hash-2", w["hash-2"]!.port, { app: "hash" }, hb),
      we("slowweb", w.slowweb!.port, { app: "slowweb" }, hb),
      we("db", tcp.port, { app: "db" }, hb),
      se("web"),
      se("mirror"),
      se("hash"),
      se("slowweb"),
      se("db", 5432, "TCP"),
      `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: ${NS}}
spec:
  hosts: [${host("web")}]
  http:
  - name: old-api
    match: [{uri: {prefix: /old/}}]
    redirect: {uri: /new/, redirectCode: 308}
  - name: broken
    match: [{uri: {prefix: /broken}}]
    fault: {abort: {httpStatus: 503, percentage: {value: 100}}}
    route: [{destination: {host: ${host("web")}}}]
  - name: api
    match: [{uri: {prefix: /api/}}]
    rewrite: {uri: /v2/}
    headers:
      request: {set: {x-route: api}, remove: [x-secret]}
      response: {add: {x-served-by: strait}}
    mirror: {host: ${host("mirror")}}
    mirrorPercentage: {value: 100}
    route: [{destination: {host: ${host("web")}}}]
  - route: [{destination: {host: ${host("web")}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: slowweb, namespace: ${NS}}
spec:
  hosts: [${host("slowweb")}]
  http: [{route: [{destination: {host: ${host("slowweb")}}}], timeout: 0.2s, retries: {attempts: 0}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: hash, namespace: ${NS}}
spec:
  host: ${host("hash")}
  trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-user}}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: db-deny, namespace: ${NS}}
spec:
  selector: {matchLabels: {app: db}}
  action: DENY
  rules: [{from: [{source: {principals: [strait.local/ns/${NS}/sa/sleep]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: web-audit, namespace: ${NS}}
spec:
  selector: {matchLabels: {app: web}}
  action: AUDIT
  rules: [{to: [{operation: {paths: [/audited]}}]}]
`,
    ].join(""),
  );
  await eventually("config applied", () => {
    const va = a.proxy.config.current();
    const vb = b.proxy.config.current();
    return va?.snapshot.routes.some((r) => r.host === host("slowweb")) === true && (vb?.snapshot.authorizationPolicies.length ?? 0) >= 2;
  }, 60_000);
});

after(async () => {
  await mesh?.close();
  for (const e of Object.values(w)) await e.close();
  await tcp?.close();
  await rm(logDir, { recursive: true, force: true });
});

const call = (svc: string, path: string, o: Parameters<typeof viaProxy>[3] = {}) => viaProxy(a.port("outbound"), host(svc), path, o);

test("rewrite, request and response header operations, mirror", async () => {
  const r = await call("web", "/api/items?q=1", { headers: { "x-secret": "s3cr3t" } });
  assert.equal(r.status, 200, r.body);
  assert.equal(r.headers["x-served-by"], "strait");
  const seen = JSON.parse(r.body) as { path: string; headers: Record<string, string> };
  assert.equal(seen.path, "/v2/items?q=1");
  assert.equal(seen.headers["x-route"], "api");
  assert.equal(seen.headers["x-secret"], undefined);
  const mirrored = await eventually("the mirror got a copy", () => w.mirror!.requests.find((m) => m.path === "/v2/items?q=1"));
  assert.equal(mirrored.headers["x-route"], "api");
});

test("redirect and fault abort are answered by the proxy", async () => {
  const red = await call("web", "/old/page?x=1");
  assert.equal(red.status, 308);
  assert.match(String(red.headers.location), /\/new\/\?x=1$/, "redirect.uri replaces the whole path and keeps the query");
  const before = w.web!.requests.length;
  const abort = await call("web", "/broken");
  assert.equal(abort.status, 503);
  assert.equal(abort.headers["x-envoy-response-flags"], "FI");
  assert.equal(w.web!.requests.length, before, "an aborted request never leaves the proxy");
});

test("a route timeout answers 504 UT", async () => {
  w.slowweb!.delayMs = 3000;
  const r = await call("slowweb", "/slow");
  w.slowweb!.delayMs = 0;
  assert.equal(r.status, 504);
  assert.equal(r.headers["x-envoy-response-flags"], "UT");
});

test("consistent hash on a header keeps each user on one endpoint", async () => {
  const where = new Map<string, Set<string>>();
  for (const user of ["ann", "bob", "cyd", "dan"]) {
    for (let i = 0; i < 8; i++) {
      const r = await call("hash", "/h", { headers: { "x-user": user } });
      assert.equal(r.status, 200);
      const set = where.get(user) ?? new Set<string>();
      set.add((JSON.parse(r.body) as { workload: string }).workload);
      where.set(user, set);
    }
  }
  for (const [user, set] of where) assert.equal(set.size, 1, `${user} went to ${[...set].join(",")}`);
});

test("TCP: a tunnel denied by AuthorizationPolicy is refused and closed", async () => {
  const s = net.connect({ host: "127.0.0.1", port: a.port("outbound") });
  const text = await new Promise<string>((resolve) => {
    let buf = "";
    s.on("data", (d: Buffer) => (buf += d.toString("latin1")));
    s.on("close", () => resolve(buf));
    s.on("error", () => resolve(buf));
    s.write(`CONNECT ${host("db")}:5432 HTTP/1.1\r\nhost: ${host("db")}:5432\r\nproxy-authorization: ${proxyAuthorization("sleep.shop")}\r\n\r\n`);
  });
  assert.match(text, /^HTTP\/1\.1 403/);
  assert.doesNotMatch(text, /db:/);
  const m = await b.metricsText();
  assert.match(m, /strait_proxy_authz_denied_total\{[^}]*protocol="tcp"[^}]*\} [1-9]/);
});

test("access log: JSON lines with response flags on both sides; AUDIT matches are marked", async () => {
  await call("web", "/audited");
  await call("web", "/broken");
  const lines = async (f: string) =>
    (await readFile(join(logDir, f), "utf8"))
      .split("\n")
      .filter((l) => l !== "")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const bLog = await eventually("b logged the audited request", async () => {
    const l = await lines("b.log");
    return l.some((e) => e.path === "/audited") ? l : undefined;
  });
  const audited = bLog.find((e) => e.path === "/audited")!;
  assert.equal(audited.audit, true);
  assert.equal(audited.audit_policy, "shop/web-audit");
  assert.equal(audited.connection_security_policy, "mutual_tls");
  assert.equal(audited.source_principal, "spiffe://strait.local/ns/shop/sa/sleep");
  const aLog = await eventually("a logged the fault", async () => {
    const l = await lines("a.log");
    return l.some((e) => e.path === "/broken") ? l : undefined;
  });
  const fault = aLog.find((e) => e.path === "/broken")!;
  assert.equal(fault.response_code, 503);
  assert.equal(fault.response_flags, "FI");
  assert.equal(fault.route_name, "broken");
});
