// CA rotation end to end in workerd: stage -> published but not signing -> activate ->
// new SVIDs chain to the new intermediate, the old one stays published -> after the old
// generation's last SVID expires it is pruned from the bundle (short TTLs: 8 s X.509, 3 s JWT).
// Renewal proves possession of the node's current key, including one signed by a retired generation.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startControlWorker, type StartedWorker } from "../support/control-worker.ts";
import { createThrowawayCa, opensslVerify, type ThrowawayCa } from "../support/throwaway-ca.ts";
import { controlClient } from "../support/control-client.ts";
import { attestKeyed, renewKeyed, type KeyedNode } from "../support/identity-renewal.ts";
import { createIntermediateCa, createRootCa, type CaKeyPair } from "../../src/identity/ca.ts";
import { systemClock } from "../../src/core/clock.ts";

const TTL_SECONDS = 3;
const X509_TTL_SECONDS = 8;
let ca: ThrowawayCa;
let worker: StartedWorker;

const { api } = controlClient<any>(() => worker, () => ca.adminToken);

function der(pem: string): string {
  return Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ""), "base64").toString("base64");
}

async function bundle(): Promise<{ x5c: string[]; kids: string[]; sequence: number }> {
  const r = await api("/.well-known/spiffe-bundle");
  assert.equal(r.status, 200);
  const keys = r.body.keys as { use: string; x5c?: string[]; kid?: string }[];
  return {
    x5c: keys.filter((k) => k.use === "x509-svid").map((k) => k.x5c?.[0] ?? ""),
    kids: keys.filter((k) => k.use === "jwt-svid").map((k) => k.kid ?? ""),
    sequence: r.body.spiffe_sequence,
  };
}

async function chainsTo(intermediate: CaKeyPair, leafPem: string): Promise<boolean> {
  return opensslVerify(ca.root.certificatePem, intermediate.certificatePem, leafPem).then(
    () => true,
    () => false,
  );
}

let node: KeyedNode;

async function renew(): Promise<{ certificatePem: string; jwt: string; notAfter: string }> {
  const { response: r, node: renewed } = await renewKeyed<any>(worker, node);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  node = renewed as KeyedNode;
  return { certificatePem: r.body.x509Svid.certificatePem, jwt: r.body.jwtSvid.token, notAfter: r.body.x509Svid.notAfter };
}

before(async () => {
  ca = await createThrowawayCa();
  worker = await startControlWorker({ vars: { ...ca.vars, X509_SVID_TTL_SECONDS: String(X509_TTL_SECONDS), JWT_SVID_TTL_SECONDS: String(TTL_SECONDS) } });
  node = await attestKeyed(worker, ca.adminToken, "c1", "rotating");
});

after(async () => {
  await worker?.dispose();
});

describe("staging refuses what is not a usable intermediate of our root, writing nothing", () => {
  test("admin only: 401 anonymous, 403 node", async () => {
    const next = await ca.newIntermediate();
    assert.equal((await api("/v1/identity/ca/stage", { json: next })).status, 401);
    assert.equal((await api("/v1/identity/ca/stage", { token: node.jwt, json: next })).status, 403);
    assert.equal((await api("/v1/identity/ca", { token: node.jwt })).status, 403);
  });

  test("foreign root, key mismatch, malformed PEM, leaf-less fields", async () => {
    const otherRoot = await createRootCa({ trustDomain: ca.trustDomain, clock: systemClock, ttlSeconds: 86400 });
    const foreign = await createIntermediateCa(otherRoot, { trustDomain: ca.trustDomain, clock: systemClock, ttlSeconds: 3600 });
    const mine = await ca.newIntermediate();
    const cases: [unknown, string][] = [
      [foreign, "certificatePem"],
      [{ certificatePem: mine.certificatePem, privateKeyPem: foreign.privateKeyPem }, "privateKeyPem"],
      [{ certificatePem: "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n", privateKeyPem: mine.privateKeyPem }, "certificatePem"],
      [{ certificatePem: ca.root.certificatePem.replace("CERTIFICATE", "PRIVATE KEY"), privateKeyPem: mine.privateKeyPem }, "certificatePem"],
      [{ certificatePem: mine.certificatePem, privateKeyPem: "garbage" }, "privateKeyPem"],
      [{ certificatePem: mine.certificatePem }, "privateKeyPem"],
    ];
    const before = await bundle();
    for (const [json, field] of cases) {
      const r = await api("/v1/identity/ca/stage", { token: ca.adminToken, json });
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.error.field, field, JSON.stringify(r.body));
    }
    const listed = await api("/v1/identity/ca", { token: ca.adminToken });
    assert.deepEqual(listed.body.generations.map((g: { generation: number }) => g.generation), [1]);
    assert.deepEqual(await bundle(), before);
  });

  test("activating an unknown or the active generation is refused", async () => {
    const unknown = await api("/v1/identity/ca/activate", { token: ca.adminToken, json: { generation: 99 } });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.field, "generation");
    const active = await api("/v1/identity/ca/activate", { token: ca.adminToken, json: { generation: 1 } });
    assert.equal(active.status, 409);
    const wrongType = await api("/v1/identity/ca/activate", { token: ca.adminToken, json: { generation: "2" } });
    assert.equal(wrongType.status, 400);
    assert.equal(wrongType.body.error.field, "generation");
  });
});

describe("rotation", () => {
  test("stage -> publish -> activate -> old still published -> pruned after its last SVID expires (checklist 87, 97)", async () => {
    const initial = await bundle();
    assert.equal(initial.x5c.length, 2);
    assert.ok(initial.x5c.includes(der(ca.intermediate.certificatePem)));
    assert.equal(initial.kids.length, 1);

    // Stage: in the bundle (x509 + jwt, sequence bumped), not signing.
    const next = await ca.newIntermediate();
    const staged = await api("/v1/identity/ca/stage", { token: ca.adminToken, json: next });
    assert.equal(staged.status, 201, JSON.stringify(staged.body));
    assert.equal(staged.body.generation, 2);
    const afterStage = await bundle();
    assert.ok(afterStage.sequence > initial.sequence);
    assert.ok(afterStage.x5c.includes(der(next.certificatePem)));
    assert.equal(afterStage.kids.length, 2);
    assert.ok(afterStage.kids.includes(staged.body.jwtKid));
    const dup = await api("/v1/identity/ca/stage", { token: ca.adminToken, json: next });
    assert.equal(dup.status, 409);

    // Fresh credentials: the staging tests above may outlast the short X.509-SVID.
    node = await attestKeyed(worker, ca.adminToken, "c1", "rotating");
    const beforeActivation = await renew();
    assert.ok(await chainsTo(ca.intermediate, beforeActivation.certificatePem), "still signed by generation 1");
    assert.equal(await chainsTo(next, beforeActivation.certificatePem), false);

    // Checklist 97: a staged key is published 3x the refresh hint before it may sign...
    const early = await api("/v1/identity/ca/activate", { token: ca.adminToken, json: { generation: 2 } });
    assert.equal(early.status, 409, JSON.stringify(early.body));
    assert.equal(early.body.error.field, "generation");
    assert.match(early.body.error.message, /refresh the bundle every 300 s, so it can be activated from .*"force": true/);
    const notBoolean = await api("/v1/identity/ca/activate", { token: ca.adminToken, json: { generation: 2, force: "yes" } });
    assert.equal(notBoolean.status, 400);
    assert.equal(notBoolean.body.error.field, "force");
    assert.equal((await bundle()).sequence, afterStage.sequence, "refusals change nothing");

    // ...unless forced (as here, so the test need not wait 15 minutes). Activate: new SVIDs
    // chain to the new intermediate, generation 1 stays published.
    const activated = await api("/v1/identity/ca/activate", { token: ca.adminToken, json: { generation: 2, force: true } });
    assert.equal(activated.status, 200, JSON.stringify(activated.body));
    assert.equal(activated.body.retired.generation, 1);
    const publishUntil = Date.parse(activated.body.retired.publishUntil);
    assert.ok(publishUntil >= Date.parse(beforeActivation.notAfter), "published at least until its last SVID expires");

    // A JWT-SVID signed by generation 1's key is still accepted while it lives.
    assert.equal((await api("/v1/identity/revocations", { token: beforeActivation.jwt })).status, 200);
    const afterActivation = await renew();
    assert.ok(await chainsTo(next, afterActivation.certificatePem), "now signed by generation 2");
    assert.equal(await chainsTo(ca.intermediate, afterActivation.certificatePem), false);
    const during = await bundle();
    assert.equal(during.sequence, afterStage.sequence, "activation does not change the bundle");
    assert.ok(during.x5c.includes(der(ca.intermediate.certificatePem)));
    assert.ok(during.x5c.includes(der(next.certificatePem)));

    const listed = await api("/v1/identity/ca", { token: ca.adminToken });
    assert.deepEqual(
      listed.body.generations.map((g: { generation: number; status: string; signing: boolean; published: boolean }) => [g.generation, g.status, g.signing, g.published]),
      [[1, "retired", false, true], [2, "active", true, true]],
    );

    // After publishUntil: generation 1 is pruned from the bundle and the sequence moves.
    await new Promise((r) => setTimeout(r, Math.max(0, publishUntil - Date.now()) + 300));
    const pruned = await bundle();
    assert.ok(pruned.sequence > during.sequence);
    assert.deepEqual(pruned.x5c.sort(), [der(ca.root.certificatePem), der(next.certificatePem)].sort());
    assert.deepEqual(pruned.kids, [staged.body.jwtKid]);
    const pem = await worker.fetch("/v1/identity/bundle.pem").then((r) => r.text());
    assert.equal(pem.includes(ca.intermediate.certificatePem.trim()), false);
    const final = await api("/v1/identity/ca", { token: ca.adminToken });
    assert.deepEqual(final.body.generations.map((g: { status: string }) => g.status), ["pruned", "active"]);

    // The rotation is audited.
    const audit = await api("/v1/audit?action=identity.ca.activate", { token: ca.adminToken });
    assert.equal(audit.body.events.length, 1);
    assert.equal(audit.body.events[0].detail.retired, 1);
    assert.equal(audit.body.events[0].detail.forced, true);
  });
});
