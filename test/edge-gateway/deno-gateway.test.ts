/**
 * The same gateway conformance table on Deno 2: the `deno serve` entry takes its snapshot from
 * the control API (long-poll, verified against the trust bundle) and routes to the same real
 * upstreams: routing, retries, JWT authentication, authorization and the rest.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createThrowawayCa } from "../support/throwaway-ca.ts";
import { startEdgeMesh, type EdgeMesh } from "../support/edge-gateway-mesh.ts";
import { startDenoGateway, type DenoGateway } from "../support/edge-gateway-deno.ts";
import { eventually as retryUntil } from "../support/eventually.ts";
import { GATEWAY_CASES, sender, startFixture, type GatewayFixture } from "./gateway-fixture.ts";

let mesh: EdgeMesh;
let fixture: GatewayFixture;
let deno: DenoGateway;
let admin: string;

async function apply(yaml: string): Promise<void> {
  const r = await mesh.control("/v1/apply", { method: "POST", headers: { authorization: `Bearer ${admin}`, "content-type": "application/yaml" }, body: yaml });
  assert.equal(r.status, 200, await r.text());
}

/** This file's wait for the gateway to pick a change up. */
const eventually = (check: () => Promise<void>, timeoutMs = 30_000) => retryUntil(check, timeoutMs);

before(async () => {
  const ca = await createThrowawayCa();
  admin = ca.adminToken;
  fixture = await startFixture();
  mesh = await startEdgeMesh({ controlVars: ca.vars });
  await apply(fixture.yaml);
  deno = await startDenoGateway({ STRAIT_CONTROL_URL: mesh.controlUrl.href, STRAIT_CONTROL_TOKEN: admin, ACCESS_LOG: "off", TRUST_DOMAIN: ca.trustDomain });
  const send = sender({ url: deno.url, runtime: "deno" });
  await eventually(async () => assert.equal((await send("/app")).status, 200));
});

after(async () => {
  await deno?.stop();
  await mesh?.dispose();
  await fixture?.close();
});

for (const c of GATEWAY_CASES) {
  test(`deno: ${c.name}`, async () => {
    await c.run(sender({ url: deno.url, runtime: "deno" }), fixture);
  });
}

test("deno: a published change arrives over the long-poll", async () => {
  await apply(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: late, namespace: shop }
spec:
  hosts: ["late.example.com"]
  gateways: ["edge"]
  http:
    - route: [{ destination: { host: reviews.shop.internal, subset: v2 } }]
`);
  const send = sender({ url: deno.url, runtime: "deno" }, "late.example.com");
  await eventually(async () => assert.equal((await send("/x")).status, 200));
  const h = (await (await fetch(new URL("/healthz", deno.url))).json()) as { snapshotVersion: number };
  assert.ok(h.snapshotVersion >= 2);
});
