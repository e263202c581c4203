/**
 * A client going away mid-request (downstream-disconnect-cases.ts) on Deno 2: the `deno serve`
 * entry takes its snapshot from the control API's long-poll, as deno-gateway.test.ts does; the
 * access log is read from the process's output and `istio_requests_total` from a local OTLP
 * collector. `downstream-disconnect.test.ts` runs the same table in workerd.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createThrowawayCa } from "../support/throwaway-ca.ts";
import { startEdgeMesh, type EdgeMesh } from "../support/edge-gateway-mesh.ts";
import { startDenoGateway, type DenoGateway } from "../support/edge-gateway-deno.ts";
import { httpRequest } from "../support/edge-gateway-upstreams.ts";
import { eventually } from "../support/eventually.ts";
import { accessLogLines } from "../support/gateway-access-log.ts";
import { DOWNSTREAM_DISCONNECT_CASES, HOST, READY_PATH, startCollector, startDisconnectFixture, type DisconnectFixture, type DisconnectTarget, type MetricsCollector } from "./downstream-disconnect-cases.ts";

let mesh: EdgeMesh;
let fixture: DisconnectFixture;
let collector: MetricsCollector;
let deno: DenoGateway;
let target: DisconnectTarget;

before(async () => {
  const ca = await createThrowawayCa();
  fixture = await startDisconnectFixture();
  collector = await startCollector();
  mesh = await startEdgeMesh({ controlVars: ca.vars });
  const r = await mesh.control("/v1/apply", { method: "POST", headers: { authorization: `Bearer ${ca.adminToken}`, "content-type": "application/yaml" }, body: fixture.yaml });
  assert.equal(r.status, 200, await r.text());
  deno = await startDenoGateway({
    STRAIT_CONTROL_URL: mesh.controlUrl.href,
    STRAIT_CONTROL_TOKEN: ca.adminToken,
    TRUST_DOMAIN: ca.trustDomain,
    ACCESS_LOG: "on",
    OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint,
    OTEL_METRIC_EXPORT_INTERVAL: "0",
  });
  await eventually(async () => assert.equal((await httpRequest(deno.url, READY_PATH, { host: HOST })).body, "ready"), 30_000);
  target = { runtime: "deno", url: deno.url, accessLog: () => accessLogLines(deno.output().split("\n")), requestsTotal: () => collector.requestsTotal() };
});

after(async () => {
  await deno?.stop();
  await mesh?.dispose();
  await fixture?.close();
  await collector?.close();
});

for (const c of DOWNSTREAM_DISCONNECT_CASES) {
  test(`deno: ${c.name}`, () => c.run(target, fixture));
}
