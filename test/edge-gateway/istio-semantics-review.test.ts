/**
 * The Istio-semantics review (istio-semantics-cases.ts) in real workerd: the gateway and the
 * control worker in one Miniflare, configured through `POST /v1/apply`, the gateway checking for a
 * new snapshot on every request (`SNAPSHOT_CHECK_SECONDS=0`). `deno-istio-semantics.test.ts` runs
 * the same table on Deno.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createThrowawayCa } from "../support/throwaway-ca.ts";
import { startEdgeMesh, type EdgeMesh } from "../support/edge-gateway-mesh.ts";
import { httpRequest } from "../support/edge-gateway-upstreams.ts";
import { ISTIO_SEMANTICS_CASES, reviewContext, startReviewFixture, type ReviewContext, type ReviewFixture, type ReviewTarget } from "./istio-semantics-cases.ts";

let mesh: EdgeMesh;
let fixture: ReviewFixture;
let context: ReviewContext;
const lines: string[] = [];

before(async () => {
  const ca = await createThrowawayCa();
  fixture = await startReviewFixture();
  mesh = await startEdgeMesh({ controlVars: ca.vars, gatewayVars: { ACCESS_LOG: "on", SNAPSHOT_CHECK_SECONDS: "0" }, onLine: (l) => lines.push(l) });
  const target: ReviewTarget = {
    runtime: "workerd",
    upstreamHost: "url",
    send: (host, path, o = {}) => httpRequest(mesh.gatewayUrl, path, { ...o, host }),
    url: mesh.gatewayUrl,
    accessLog: () => lines,
    async apply(yaml) {
      const r = await mesh.control("/v1/apply", { method: "POST", headers: { authorization: `Bearer ${ca.adminToken}`, "content-type": "application/yaml" }, body: yaml });
      const text = await r.text();
      assert.equal(r.status, 200, text);
    },
  };
  await target.apply(fixture.yaml);
  context = reviewContext(target, fixture);
});

after(async () => {
  await mesh?.dispose();
  await fixture?.close();
});

for (const c of ISTIO_SEMANTICS_CASES) {
  test(`workerd: ${c.name}`, () => c.run(context));
}
