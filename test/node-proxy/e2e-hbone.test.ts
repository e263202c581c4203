/**
 * Two node proxies on loopback, attested with join tokens against the real control worker,
 * workloads' SVIDs from the real issuer: calls from `sleep` (node a) cross HBONE to workloads on
 * node b (and to one on node a itself). Covers mTLS on the wire, metrics, authorization, weighted
 * routing, retries, outlier ejection, connection-pool overflow, CONNECT tunnels and bad input.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import {
  LoopbackRelay,
  TestMesh,
  eventually,
  proxyAuthorization,
  rawExchange,
  startEcho,
  startTcpEcho,
  viaProxy,
  type EchoWorkload,
  type ProxyNode,
} from "../support/node-proxy-mesh.ts";

const NS = "shop";
const host = (name: string) => `${name}.${NS}.svc.cluster.local`;

let mesh: TestMesh;
let a: ProxyNode;
let b: ProxyNode;
let relay: LoopbackRelay;
const echo: Record<string, EchoWorkload> = {};
let tcp: { port: number; close(): Promise<void> };

function workloadEntry(name: string, node: string, port: number, labels: Record<string, string>, hbonePort: number, sa = name): string {
  const all = { ...labels, "strait.io/hbone-port": String(hbonePort) };
  return `---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${name}, namespace: ${NS}, labels: {strait.io/cluster: c1, strait.io/node: ${node}}}
spec:
  address: 127.0.0.1
  serviceAccount: ${sa}
  ports: {http: ${port}, tcp: ${port}}
  labels: ${JSON.stringify(all)}
`;
}

function service(name: string, selector: Record<string, string>, port = 80, protocol = "HTTP"): string {
  return `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: ${NS}}
spec:
  hosts: [${host(name)}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: ${port}, name: ${protocol === "HTTP" ? "http" : "tcp"}, protocol: ${protocol}}]
  workloadSelector: {labels: ${JSON.stringify(selector)}}
`;
}

before(async () => {
  mesh = await TestMesh.start();
  for (const n of ["echo-v1", "echo-v2", "guarded", "flaky", "od-good", "od-bad", "slow", "nearby"]) echo[n] = await startEcho(n);
  tcp = await startTcpEcho("tcp");
  a = await mesh.startNode("c1", "a");
  b = await mesh.startNode("c1", "b");
  // Every byte between a and b passes this relay: the "packet capture".
  relay = await LoopbackRelay.start({ host: "127.0.0.1", port: b.port("hbone") });
  const hb = relay.port;
  const ha = a.port("hbone");
  const yaml = [
    `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: sleep, namespace: ${NS}, labels: {strait.io/cluster: c1, strait.io/node: a}}
spec: {address: 127.0.0.1, serviceAccount: sleep, labels: {app: sleep}}
`,
    workloadEntry("echo-v1", "b", echo["echo-v1"]!.port, { app: "echo", version: "v1" }, hb, "echo"),
    workloadEntry("echo-v2", "b", echo["echo-v2"]!.port, { app: "echo", version: "v2" }, hb, "echo"),
    workloadEntry("guarded", "b", echo.guarded!.port, { app: "guarded" }, hb),
    workloadEntry("flaky", "b", echo.flaky!.port, { app: "flaky" }, hb),
    workloadEntry("od-good", "b", echo["od-good"]!.port, { app: "od" }, hb, "od"),
    workloadEntry("od-bad", "b", echo["od-bad"]!.port, { app: "od" }, hb, "od"),
    workloadEntry("slow", "b", echo.slow!.port, { app: "slow" }, hb),
    workloadEntry("nearby", "a", echo.nearby!.port, { app: "nearby" }, ha),
    workloadEntry("tcp", "b", tcp.port, { app: "tcp" }, hb),
    service("echo", { app: "echo" }),
    service("guarded", { app: "guarded" }),
    service("flaky", { app: "flaky" }),
    service("od", { app: "od" }),
    service("slow", { app: "slow" }),
    service("nearby", { app: "nearby" }),
    service("tcp", { app: "tcp" }, 9000, "TCP"),
    `---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: ${NS}}
spec:
  host: ${host("echo")}
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: ${NS}}
spec:
  hosts: [${host("echo")}]
  http:
  - match: [{uri: {prefix: /weighted}}]
    route:
    - {destination: {host: ${host("echo")}, subset: v1}, weight: 80}
    - {destination: {host: ${host("echo")}, subset: v2}, weight: 20}
  - route: [{destination: {host: ${host("echo")}, subset: v1}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: guarded, namespace: ${NS}}
spec:
  selector: {matchLabels: {app: guarded}}
  action: ALLOW
  rules:
  - from: [{source: {principals: [strait.local/ns/${NS}/sa/sleep]}}]
    to: [{operation: {methods: [GET], paths: [/ok*]}}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: nearby-deny, namespace: ${NS}}
spec:
  selector: {matchLabels: {app: nearby}}
  action: DENY
  rules: [{to: [{operation: {paths: [/forbidden]}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: flaky, namespace: ${NS}}
spec:
  hosts: [${host("flaky")}]
  http: [{route: [{destination: {host: ${host("flaky")}}}], retries: {attempts: 3, retryOn: 5xx}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: od, namespace: ${NS}}
spec:
  host: ${host("od")}
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 3s, maxEjectionPercent: 100}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: od, namespace: ${NS}}
spec:
  hosts: [${host("od")}]
  http: [{route: [{destination: {host: ${host("od")}}}], retries: {attempts: 0}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: slow, namespace: ${NS}}
spec:
  host: ${host("slow")}
  trafficPolicy:
    connectionPool: {tcp: {maxConnections: 1}, http: {http1MaxPendingRequests: 1, maxRequestsPerConnection: 1}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: slow, namespace: ${NS}}
spec:
  hosts: [${host("slow")}]
  http: [{route: [{destination: {host: ${host("slow")}}}], retries: {attempts: 0}}]
`,
  ].join("");
  await mesh.apply(yaml);
  await eventually("both proxies applied the mesh config", () => {
    const va = a.proxy.config.current();
    const vb = b.proxy.config.current();
    return (
      va?.snapshot.outbound.some((s) => s.host === host("slow")) === true &&
      va.snapshot.workloads.some((w) => w.name === "nearby") &&
      vb?.snapshot.workloads.some((w) => w.name === "tcp") === true &&
      vb.snapshot.authorizationPolicies.length > 0
    );
  }, 60_000);
});

after(async () => {
  await relay?.close();
  await mesh?.close();
  for (const e of Object.values(echo)) await e.close();
  await tcp?.close();
});

describe("a call from node a to node b", () => {
  test("crosses HBONE: the workload sees the caller's SPIFFE ID, metrics say mutual_tls, no plaintext between the proxies", async () => {
    const canary = `canary-${Math.random().toString(36).slice(2)}-request-body`;
    relay.capture = true;
    const r = await viaProxy(a.port("outbound"), host("echo"), "/hello?x=1", { body: canary, headers: { traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" } });
    relay.capture = false;
    assert.equal(r.status, 200, r.body);
    const seen = JSON.parse(r.body) as { workload: string; path: string; body: string; headers: Record<string, string> };
    assert.equal(seen.workload, "echo-v1");
    assert.equal(seen.path, "/hello?x=1");
    assert.equal(seen.body, canary);
    assert.match(seen.headers["x-forwarded-client-cert"] ?? "", /URI=spiffe:\/\/strait\.local\/ns\/shop\/sa\/sleep/);
    assert.match(seen.headers.traceparent ?? "", /^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-0[01]$/, "the trace id is propagated");

    const wire = Buffer.concat(relay.captured);
    assert.ok(wire.length > 0, "the relay saw the traffic between the proxies");
    assert.equal(wire.indexOf(canary), -1, "the request body never crosses in plaintext");
    assert.equal(wire.indexOf("HTTP/1.1"), -1, "no HTTP/1.1 in plaintext");
    assert.equal(wire.indexOf("echo.shop.svc.cluster.local"), -1, "no Host header in plaintext");

    const metricsB = await b.metricsText();
    assert.match(metricsB, /istio_requests_total\{[^}]*reporter="destination"[^}]*\}/);
    const line = metricsB.split("\n").find((l) => l.startsWith("istio_requests_total{") && l.includes(`destination_service="${host("echo")}"`));
    assert.ok(line, metricsB);
    assert.match(line, /connection_security_policy="mutual_tls"/);
    assert.match(line, /source_principal="spiffe:\/\/strait\.local\/ns\/shop\/sa\/sleep"/);
    assert.match(line, /response_code="200"/);
  });

  test("the HBONE listener refuses a plaintext connection", async () => {
    const r = await rawExchange(b.port("hbone"), `GET / HTTP/1.1\r\nhost: ${host("echo")}\r\n\r\n`);
    assert.doesNotMatch(r.text, /echo-v1/);
    assert.ok(r.closed, "closed");
  });

  test("weighted routing 80/20 over 1,000 requests lands within ±5 %", async () => {
    const before1 = echo["echo-v1"]!.requests.length;
    const before2 = echo["echo-v2"]!.requests.length;
    const total = 1000;
    let next = 0;
    const worker = async () => {
      while (next < total) {
        next++;
        const r = await viaProxy(a.port("outbound"), host("echo"), "/weighted");
        assert.equal(r.status, 200, r.body);
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    const v1 = echo["echo-v1"]!.requests.length - before1;
    const v2 = echo["echo-v2"]!.requests.length - before2;
    assert.equal(v1 + v2, total);
    const share = v2 / total;
    assert.ok(Math.abs(share - 0.2) <= 0.05, `v2 got ${(share * 100).toFixed(1)} % (want 20 ± 5 %)`);
  });
});

describe("authorization", () => {
  test("an allowed request passes; a denied one is 403 RBAC: access denied, counted", async () => {
    const ok = await viaProxy(a.port("outbound"), host("guarded"), "/ok/1");
    assert.equal(ok.status, 200, ok.body);
    const denied = await viaProxy(a.port("outbound"), host("guarded"), "/secret");
    assert.equal(denied.status, 403);
    assert.equal(denied.body.trim(), "RBAC: access denied");
    const post = await viaProxy(a.port("outbound"), host("guarded"), "/ok/1", { method: "POST", body: "x" });
    assert.equal(post.status, 403, "method not in to.operation.methods");
    assert.equal(echo.guarded!.requests.filter((r) => r.path === "/secret").length, 0, "the workload never saw the denied request");
    const m = await b.metricsText();
    assert.match(m, /strait_proxy_authz_denied_total\{[^}]*workload="shop\/guarded"[^}]*\} [1-9]/);
  });

  test("a workload on the same node is still reached over authenticated HBONE and authorized", async () => {
    const ok = await viaProxy(a.port("outbound"), host("nearby"), "/fine");
    assert.equal(ok.status, 200, ok.body);
    assert.match(JSON.parse(ok.body).headers["x-forwarded-client-cert"], /URI=spiffe:\/\/strait\.local\/ns\/shop\/sa\/sleep/);
    const denied = await viaProxy(a.port("outbound"), host("nearby"), "/forbidden");
    assert.equal(denied.status, 403);
    assert.equal(denied.body.trim(), "RBAC: access denied");
    const m = await a.metricsText();
    const line = m.split("\n").find((l) => l.startsWith("istio_requests_total{") && l.includes('reporter="destination"') && l.includes(host("nearby")));
    assert.ok(line, "node a reports the inbound side of the same-node call");
    assert.match(line, /connection_security_policy="mutual_tls"/);
  });
});

describe("resilience", () => {
  test("retries: two 503s then 200 — the client gets 200, the upstream saw three tries", async () => {
    const w = echo.flaky!;
    w.requests.length = 0;
    w.status = (n) => (n <= 2 ? 503 : 200);
    const r = await viaProxy(a.port("outbound"), host("flaky"), "/try");
    assert.equal(r.status, 200, r.body);
    assert.equal(w.requests.length, 3);
  });

  test("outlier detection: after two 5xx in a row an endpoint is ejected, and is back after its ejection time", async () => {
    const bad = echo["od-bad"]!;
    const good = echo["od-good"]!;
    bad.status = () => 500;
    let bad5xx = 0;
    for (let i = 0; i < 8 && bad5xx < 2; i++) {
      const r = await viaProxy(a.port("outbound"), host("od"), `/warm/${i}`);
      if (r.status === 500) bad5xx++;
    }
    assert.equal(bad5xx, 2, "the bad endpoint answered two 5xx");
    const badBefore = bad.requests.length;
    const goodBefore = good.requests.length;
    for (let i = 0; i < 10; i++) {
      const r = await viaProxy(a.port("outbound"), host("od"), `/ejected/${i}`);
      assert.equal(r.status, 200, "only the healthy endpoint answers while the other is ejected");
    }
    assert.equal(bad.requests.length, badBefore, "no request reached the ejected endpoint");
    assert.equal(good.requests.length, goodBefore + 10);
    bad.status = () => 200;
    await new Promise((r) => setTimeout(r, 3300));
    const back = await eventually("the ejected endpoint serves again", async () => {
      await viaProxy(a.port("outbound"), host("od"), "/after");
      return bad.requests.length > badBefore || undefined;
    }, 10_000);
    assert.equal(back, true);
    const m = await a.metricsText();
    assert.match(m, /strait_proxy_outlier_ejections_total\{[^}]*\} [1-9]/);
  });

  test("connection-pool overflow is answered 503 with flag UO", async () => {
    const slow = echo.slow!;
    slow.delayMs = 800;
    const agent = new (await import("node:http")).Agent({ keepAlive: false, maxSockets: 10 });
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => viaProxy(a.port("outbound"), host("slow"), `/p/${i}`, { agent })));
    slow.delayMs = 0;
    const overflow = results.filter((r) => r.status === 503);
    assert.ok(overflow.length >= 1, `statuses: ${results.map((r) => r.status).join(",")}`);
    for (const r of overflow) assert.equal(r.headers["x-envoy-response-flags"], "UO");
    assert.ok(results.filter((r) => r.status === 200).length >= 2, "the connection and the pending slot were served");
  });
});

describe("CONNECT and bad input", () => {
  test("CONNECT host:port opens a TCP tunnel over HBONE", async () => {
    const s = net.connect({ host: "127.0.0.1", port: a.port("outbound") });
    const reply = await new Promise<string>((resolve, reject) => {
      let buf = "";
      s.on("data", (d: Buffer) => {
        buf += d.toString("utf8");
        if (buf.includes("\r\n\r\n") && !buf.includes("tcp:")) s.write("ping");
        if (buf.includes("tcp:ping")) resolve(buf);
      });
      s.on("error", reject);
      s.write(`CONNECT ${host("tcp")}:9000 HTTP/1.1\r\nhost: ${host("tcp")}:9000\r\nproxy-authorization: ${proxyAuthorization("sleep.shop")}\r\n\r\n`);
    });
    s.destroy();
    assert.match(reply, /^HTTP\/1\.1 200/);
    assert.match(reply, /tcp:ping/);
  });

  test("CONNECT to a host the config does not know is refused clearly", async () => {
    const r = await rawExchange(a.port("outbound"), `CONNECT unknown.example.org:443 HTTP/1.1\r\nhost: unknown.example.org:443\r\nproxy-authorization: ${proxyAuthorization("sleep.shop")}\r\n\r\n`);
    assert.match(r.text, /^HTTP\/1\.1 404/);
    assert.match(r.text, /not a service in this node's mesh registry/);
    assert.ok(r.closed);
  });

  test("malformed HTTP gets 400 and a closed connection", async () => {
    for (const bytes of ["GARBAGE\r\n\r\n", "GET / HTTP/9.9\r\n\r\n", "GET / HTTP/1.1\r\nbad header\r\n\r\n", "\x00\x01\x02\x03\r\n\r\n"]) {
      const r = await rawExchange(a.port("outbound"), bytes);
      assert.match(r.text, /^HTTP\/1\.1 400/, JSON.stringify(bytes));
      assert.ok(r.closed);
    }
  });

  test("an oversized header block gets 431 and a closed connection", async () => {
    const r = await rawExchange(a.port("outbound"), `GET / HTTP/1.1\r\nhost: ${host("echo")}\r\nx-big: ${"a".repeat(64 * 1024)}\r\n\r\n`);
    assert.match(r.text, /^HTTP\/1\.1 431/);
    assert.ok(r.closed);
  });

  test("no Host, an https:// target or an unknown host: 4xx; the proxy keeps serving", async () => {
    assert.match((await rawExchange(a.port("outbound"), "GET / HTTP/1.0\r\n\r\n")).text, /^HTTP\/1\.1 400[^]*no Host header/);
    assert.match((await rawExchange(a.port("outbound"), "GET https://x.example/ HTTP/1.1\r\nhost: x.example\r\n\r\n")).text, /^HTTP\/1\.1 400/);
    const unknown = await viaProxy(a.port("outbound"), "nothing.example.org", "/");
    assert.equal(unknown.status, 404);
    const still = await viaProxy(a.port("outbound"), host("echo"), "/still");
    assert.equal(still.status, 200);
  });
});
