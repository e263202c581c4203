/**
 * A client going away when the workerd gateway records nothing (no access log, no OTLP export): the
 * entry then does not track the client's signal (src/edge-gateway/index.ts) and workerd itself ends
 * the request's work, the upstream fetch included. The upstream must see its exchange aborted, and
 * a retry must never follow. (With telemetry on, downstream-disconnect.test.ts runs the full table:
 * the gateway resets the attempt itself and logs 0 / DC.)
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createThrowawayCa } from "../support/throwaway-ca.ts";
import { startEdgeMesh, type EdgeMesh } from "../support/edge-gateway-mesh.ts";
import { httpRequest } from "../support/edge-gateway-upstreams.ts";
import { eventually } from "../support/eventually.ts";
import { HOST, READY_PATH, ended, goAway, openRequest, startDisconnectFixture, type DisconnectFixture } from "./downstream-disconnect-cases.ts";

let mesh: EdgeMesh;
let fixture: DisconnectFixture;

before(async () => {
  const ca = await createThrowawayCa();
  fixture = await startDisconnectFixture();
  mesh = await startEdgeMesh({ controlVars: ca.vars, gatewayVars: { ACCESS_LOG: "off", SNAPSHOT_CHECK_SECONDS: "0" } });
  const r = await mesh.control("/v1/apply", { method: "POST", headers: { authorization: `Bearer ${ca.adminToken}`, "content-type": "application/yaml" }, body: fixture.yaml });
  assert.equal(r.status, 200, await r.text());
  await eventually(async () => assert.equal((await httpRequest(mesh.gatewayUrl, READY_PATH, { host: HOST })).body, "ready"), 30_000);
});

after(async () => {
  await mesh?.dispose();
  await fixture?.close();
});

test("workerd, telemetry off: a client going away ends the upstream request (workerd ends the request's work)", async () => {
  const client = openRequest(mesh.gatewayUrl, "/hold/unobserved", "dc-unobserved-hold");
  const held = await fixture.up.waitFor("dc-unobserved-hold", 1);
  goAway(client);
  assert.equal(await ended(held, "/hold"), "aborted");
});

test("workerd, telemetry off: a client going away during a slow retry: that try ends and none follows", async () => {
  const client = openRequest(mesh.gatewayUrl, "/fail-once/unobserved", "dc-unobserved-retry");
  const held = await fixture.up.waitFor("dc-unobserved-retry", 2);
  goAway(client);
  assert.equal(await ended(held, "/fail-once"), "aborted");
  // A later request on the same route reaches the upstream after anything the first one started.
  const later = openRequest(mesh.gatewayUrl, "/fail-once/later", "dc-unobserved-later");
  (await fixture.up.waitFor("dc-unobserved-later", 2)).answer(200, "ok");
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("no answer to the later request")), 15_000);
    later.once("response", (res) => {
      res.resume();
      clearTimeout(timer);
      resolve();
    });
  });
  assert.deepEqual(fixture.up.of("dc-unobserved-retry").map((e) => e.attempt), [1, 2]);
});

test("workerd, telemetry off: with a mirror in flight the upstream request still ends; the shadow completes", async () => {
  const client = openRequest(mesh.gatewayUrl, "/mirrored/unobserved", "dc-unobserved-mirror");
  const [held, shadow] = await Promise.all([fixture.up.waitFor("dc-unobserved-mirror", 1), fixture.mirror.waitFor("dc-unobserved-mirror", 1)]);
  goAway(client);
  // The shadow stays unanswered until the upstream request has ended: its waitUntil holds the
  // request's work open, so only the gateway's own reset (the route's mirrors make it track the
  // client's signal) can end the upstream request here.
  assert.equal(await ended(held, "/mirrored"), "aborted");
  shadow.answer(200, "shadow");
  assert.equal(await ended(shadow, "/mirrored shadow"), "answered");
});
