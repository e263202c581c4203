/**
 * Telemetry of the gateway in workerd, received by a local OTLP/HTTP collector: W3C trace
 * context propagated to the upstream, a server span per request and a client span per upstream
 * attempt (parented correctly), Istio request metrics with Istio's labels, and one JSON access
 * log line per request with Istio's default fields.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createThrowawayCa } from "../support/throwaway-ca.ts";
import { startEdgeMesh, type EdgeMesh } from "../support/edge-gateway-mesh.ts";
import { accessLogLines } from "../support/gateway-access-log.ts";
import { httpRequest, startEchoServer, type EchoServer } from "../support/edge-gateway-upstreams.ts";

interface KeyValue {
  key: string;
  value: { stringValue?: string; intValue?: string };
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: KeyValue[];
}
interface OtlpMetric {
  name: string;
  sum?: { dataPoints: { attributes: KeyValue[]; asInt: string }[] };
  histogram?: { dataPoints: { attributes: KeyValue[]; count: string }[] };
}

let mesh: EdgeMesh;
let echo: EchoServer;
let collector: Server;
const traces: { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] }[] = [];
const metrics: { resourceMetrics: { scopeMetrics: { metrics: OtlpMetric[] }[] }[] }[] = [];
const lines: string[] = [];

const attr = (kvs: KeyValue[], key: string) => kvs.find((k) => k.key === key)?.value.stringValue ?? kvs.find((k) => k.key === key)?.value.intValue;

before(async () => {
  collector = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      assert.equal(req.headers["content-type"], "application/json");
      const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      if (req.url === "/v1/traces") traces.push(body);
      if (req.url === "/v1/metrics") metrics.push(body);
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((r) => collector.listen(0, "127.0.0.1", r));
  const ca = await createThrowawayCa();
  echo = await startEchoServer("v1");
  mesh = await startEdgeMesh({
    controlVars: ca.vars,
    gatewayVars: { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as AddressInfo).port}`, OTEL_METRIC_EXPORT_INTERVAL: "0", OTEL_BSP_SCHEDULE_DELAY: "0", RESPONSE_REQUEST_ID: "on" },
    onLine: (l) => lines.push(l),
  });
  const r = await mesh.control("/v1/apply", {
    method: "POST",
    headers: { authorization: `Bearer ${ca.adminToken}`, "content-type": "application/yaml" },
    body: `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge, namespace: shop }
spec:
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["shop.example.com"] }]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: backend, namespace: shop }
spec:
  hosts: ["backend.shop.internal"]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{ number: 80, name: http, protocol: HTTP }]
  endpoints: [{ address: 127.0.0.1, ports: { http: ${echo.port} } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: shop, namespace: shop }
spec:
  hosts: ["shop.example.com"]
  gateways: ["edge"]
  http: [{ name: all, route: [{ destination: { host: backend.shop.internal } }] }]
`,
  });
  assert.equal(r.status, 200, await r.text());
  const deadline = Date.now() + 20_000;
  while ((await httpRequest(mesh.gatewayUrl, "/warm", { host: "shop.example.com" })).status !== 200) {
    assert.ok(Date.now() < deadline, "route went live");
    await new Promise((res) => setTimeout(res, 200));
  }
});

after(async () => {
  await mesh?.dispose();
  await echo?.close();
  collector?.closeAllConnections();
  await new Promise<void>((r) => collector?.close(() => r()));
});

async function until<T>(what: string, get: () => T | undefined): Promise<T> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test("traceparent is propagated; server and per-attempt client spans reach the OTLP collector", async () => {
  const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
  const parent = "00f067aa0ba902b7";
  const res = await httpRequest(mesh.gatewayUrl, "/traced", { host: "shop.example.com", headers: { traceparent: `00-${traceId}-${parent}-01`, tracestate: "vendor=abc" } });
  assert.equal(res.status, 200);
  const seen = res.json<{ headers: Record<string, string> }>().headers;
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(seen.traceparent ?? "");
  assert.ok(m, `upstream traceparent ${seen.traceparent}`);
  assert.equal(m[1], traceId);
  assert.notEqual(m[2], parent);
  assert.equal(seen.tracestate, "vendor=abc");
  const spans = await until("spans of the trace", () => {
    const all = traces.flatMap((t) => t.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans))).filter((s) => s.traceId === traceId);
    return all.length >= 2 ? all : undefined;
  });
  const server = spans.find((s) => s.kind === 2)!;
  const client = spans.find((s) => s.kind === 3)!;
  assert.equal(server.parentSpanId, parent);
  assert.equal(client.parentSpanId, server.spanId);
  assert.equal(client.spanId, m[2], "the upstream's parent is the attempt span");
  assert.equal(attr(server.attributes, "http.response.status_code"), "200");
});

test("Istio request metrics with Istio's labels reach the collector", async () => {
  await httpRequest(mesh.gatewayUrl, "/metered", { host: "shop.example.com" });
  await httpRequest(mesh.gatewayUrl, "/nowhere", { host: "unknown.example.net" });
  const latest = await until("metrics with a 404", () => {
    const last = metrics.at(-1)?.resourceMetrics.flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics));
    const total = last?.find((x) => x.name === "istio_requests_total");
    return total?.sum?.dataPoints.some((p) => attr(p.attributes, "response_code") === "404") ? last : undefined;
  });
  const total = latest.find((x) => x.name === "istio_requests_total")!;
  const ok = total.sum!.dataPoints.find((p) => attr(p.attributes, "response_code") === "200")!;
  assert.equal(attr(ok.attributes, "destination_service"), "backend.shop.internal");
  assert.equal(attr(ok.attributes, "response_flags"), "-");
  assert.equal(attr(ok.attributes, "source_workload"), "strait-edge-gateway");
  assert.equal(attr(ok.attributes, "reporter"), "source");
  assert.equal(attr(ok.attributes, "request_protocol"), "http");
  assert.ok(Number(ok.asInt) >= 2);
  const nr = total.sum!.dataPoints.find((p) => attr(p.attributes, "response_code") === "404")!;
  assert.equal(attr(nr.attributes, "response_flags"), "NR");
  assert.equal(attr(nr.attributes, "destination_service"), "unknown");
  const duration = latest.find((x) => x.name === "istio_request_duration_milliseconds")!;
  assert.ok(duration.histogram!.dataPoints.length >= 2);
});

test("one JSON access-log line per request with Istio's default fields", async () => {
  await httpRequest(mesh.gatewayUrl, "/logged?q=1", { host: "shop.example.com", headers: { "user-agent": "strait-test", "x-request-id": "req-123" } });
  const entry = await until("the access-log line", () => accessLogLines(lines).find((e) => e.request_id === "req-123"));
  for (const k of ["start_time", "method", "path", "protocol", "response_code", "response_flags", "bytes_received", "bytes_sent", "duration", "upstream_host", "request_id", "user_agent", "authority", "upstream_cluster", "route_name"]) {
    assert.ok(k in entry, `access log has ${k}`);
  }
  assert.equal(entry.method, "GET");
  assert.equal(entry.path, "/logged?q=1");
  assert.equal(entry.response_code, 200);
  assert.equal(entry.response_flags, "-");
  assert.equal(entry.authority, "shop.example.com");
  assert.equal(entry.user_agent, "strait-test");
  assert.equal(entry.upstream_host, echo.address);
  assert.equal(entry.route_name, "all");
});

test("RESPONSE_REQUEST_ID=on: every response carries the request's x-request-id, the one the upstream and the access log saw (proxied answers and local replies)", async () => {
  const proxied = await httpRequest(mesh.gatewayUrl, "/rid", { host: "shop.example.com", headers: { "x-request-id": "rid-proxied" } });
  assert.equal(proxied.status, 200);
  assert.equal(proxied.headers["x-request-id"], "rid-proxied");
  const generated = await httpRequest(mesh.gatewayUrl, "/rid", { host: "shop.example.com" });
  const sent = generated.json<{ headers: Record<string, string | undefined> }>().headers["x-request-id"];
  assert.match(sent ?? "", /^[0-9a-f-]{36}$/);
  assert.equal(generated.headers["x-request-id"], sent);
  const local = await httpRequest(mesh.gatewayUrl, "/rid", { host: "nobody.example.com", headers: { "x-request-id": "rid-local" } });
  assert.equal(local.status, 404);
  assert.equal(local.headers["x-request-id"], "rid-local");
});
