// A control worker whose CA secrets are missing: identity endpoints answer 503 naming
// the missing secret, never a 500, and nothing else breaks.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startControlWorker, type StartedWorker } from "../support/control-worker.ts";
import { createThrowawayCa, opensslCsr, type ThrowawayCa } from "../support/throwaway-ca.ts";
import { mintJoinToken } from "../support/control-client.ts";

let ca: ThrowawayCa;
let worker: StartedWorker;

before(async () => {
  ca = await createThrowawayCa();
  const { CA_INTERMEDIATE_KEY: _key, CA_KEK: _kek, ...vars } = ca.vars;
  worker = await startControlWorker({ vars });
});

after(async () => {
  await worker?.dispose();
});

test("the bundle is 503 ERR_CA_UNAVAILABLE naming the missing secrets", async () => {
  const r = await worker.fetch("/.well-known/spiffe-bundle");
  assert.equal(r.status, 503);
  const body = (await r.json()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, "ERR_CA_UNAVAILABLE");
  assert.match(body.error.message, /CA_KEK/);
});

test("attestation is 503 and records no node", async () => {
  const token = await mintJoinToken(worker, ca.adminToken, "c1", "n1");
  const r = await worker.fetch("/v1/identity/attest", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ csr: await opensslCsr(), joinToken: token }) });
  assert.equal(r.status, 503);
  const nodes = await worker.fetch("/v1/identity/nodes", { headers: { authorization: `Bearer ${ca.adminToken}` } });
  assert.deepEqual(await nodes.json(), { nodes: [] });
});

test("health and admin auth still work without a CA", async () => {
  assert.equal((await worker.fetch("/healthz")).status, 200);
  assert.equal((await worker.fetch("/v1/audit", { headers: { authorization: `Bearer ${ca.adminToken}` } })).status, 200);
});
