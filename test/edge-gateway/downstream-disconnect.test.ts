/**
 * A client going away mid-request (downstream-disconnect-cases.ts) in real workerd: the gateway
 * and the control worker in one Miniflare, configured through `POST /v1/apply`, the access log
 * read from the gateway's stdout and `istio_requests_total` from a local OTLP collector.
 * `deno-downstream-disconnect.test.ts` runs the same table on Deno.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createThrowawayCa } from "../support/throwaway-ca.ts";
import { startEdgeMesh, type EdgeMesh } from "../support/edge-gateway-mesh.ts";
import { httpRequest } from "../support/edge-gateway-upstreams.ts";
import { eventually } from "../support/eventually.ts";
import { accessLogLines } from "../support/gateway-access-log.ts";
import { DOWNSTREAM_DISCONNECT_CASES, HOST, READY_PATH, startCollector, startDisconnectFixture, type DisconnectFixture, type DisconnectTarget, type MetricsCollector } from "./downstream-disconnect-cases.ts";

let mesh: EdgeMesh;
let fixture: DisconnectFixture;
let collector: MetricsCollector;
let target: DisconnectTarget;
const lines: string[] = [];

before(async () => {
  const ca = await createThrowawayCa();
  fixture = await startDisconnectFixture();
  collector = await startCollector();
  mesh = await startEdgeMesh({
    controlVars: ca.vars,
    gatewayVars: { ACCESS_LOG: "on", SNAPSHOT_CHECK_SECONDS: "0", OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint, OTEL_METRIC_EXPORT_INTERVAL: "0" },
    onLine: (l) => lines.push(l),
  });
  const r = await mesh.control("/v1/apply", { method: "POST", headers: { authorization: `Bearer ${ca.adminToken}`, "content-type": "application/yaml" }, body: fixture.yaml });
  assert.equal(r.status, 200, await r.text());
  await eventually(async () => assert.equal((await httpRequest(mesh.gatewayUrl, READY_PATH, { host: HOST })).body, "ready"), 30_000);
  target = { runtime: "workerd", url: mesh.gatewayUrl, accessLog: () => accessLogLines(lines), requestsTotal: () => collector.requestsTotal() };
});

after(async () => {
  await mesh?.dispose();
  await fixture?.close();
  await collector?.close();
});

for (const c of DOWNSTREAM_DISCONNECT_CASES) {
  test(`workerd: ${c.name}`, () => c.run(target, fixture));
}
