/**
 * The Istio-semantics review (istio-semantics-cases.ts) on Deno 2: the `deno serve` entry takes its
 * snapshot from the control API's long-poll (verified against the trust bundle), as
 * deno-gateway.test.ts does, and routes to the same real upstreams. Deno's Request, Response,
 * Headers and fetch are not workerd's (Host, header joining, redirects, bodies, abort signals), so
 * every case of the review runs here too.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createThrowawayCa } from "../support/throwaway-ca.ts";
import { startEdgeMesh, type EdgeMesh } from "../support/edge-gateway-mesh.ts";
import { startDenoGateway, type DenoGateway } from "../support/edge-gateway-deno.ts";
import { httpRequest } from "../support/edge-gateway-upstreams.ts";
import { ISTIO_SEMANTICS_CASES, reviewContext, startReviewFixture, type ReviewContext, type ReviewFixture, type ReviewTarget } from "./istio-semantics-cases.ts";

let mesh: EdgeMesh;
let fixture: ReviewFixture;
let deno: DenoGateway;
let context: ReviewContext;

before(async () => {
  const ca = await createThrowawayCa();
  fixture = await startReviewFixture();
  mesh = await startEdgeMesh({ controlVars: ca.vars });
  const target: ReviewTarget = {
    runtime: "deno",
    upstreamHost: "authority",
    send: (host, path, o = {}) => httpRequest(deno.url, path, { ...o, host }),
    get url() {
      return deno.url;
    },
    accessLog: () => deno.output().split("\n"),
    async apply(yaml) {
      const r = await mesh.control("/v1/apply", { method: "POST", headers: { authorization: `Bearer ${ca.adminToken}`, "content-type": "application/yaml" }, body: yaml });
      const text = await r.text();
      assert.equal(r.status, 200, text);
    },
  };
  await target.apply(fixture.yaml);
  deno = await startDenoGateway({ STRAIT_CONTROL_URL: mesh.controlUrl.href, STRAIT_CONTROL_TOKEN: ca.adminToken, ACCESS_LOG: "on", TRUST_DOMAIN: ca.trustDomain });
  context = reviewContext(target, fixture);
});

after(async () => {
  await deno?.stop();
  await mesh?.dispose();
  await fixture?.close();
});

for (const c of ISTIO_SEMANTICS_CASES) {
  test(`deno: ${c.name}`, () => c.run(context));
}
