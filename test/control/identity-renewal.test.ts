// Issue 6, finding 7: `/v1/identity/renew` proves possession of the node's CURRENT
// X.509-SVID key (a signature over a single-use server nonce, the node's SPIFFE ID and
// the CSR's hash), not the JWT-SVID alone. Real workerd, real openssl keys and verify.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { systemClock } from "../../src/core/clock.ts";
import { loadSigningCa } from "../../src/identity/ca.ts";
import { parseCsr } from "../../src/identity/csr.ts";
import { SpiffeId } from "../../src/identity/spiffe-id.ts";
import { issueX509Svid } from "../../src/identity/x509-svid.ts";
import { startControlWorker, type StartedWorker } from "../support/control-worker.ts";
import { createThrowawayCa, opensslCsr, opensslVerify, type ThrowawayCa } from "../support/throwaway-ca.ts";
import { controlClient } from "../support/control-client.ts";
import { attestKeyed, opensslKeyedCsr, renewKeyed, renewalBody, renewalNonce, type KeyedNode } from "../support/identity-renewal.ts";

let ca: ThrowawayCa;
let worker: StartedWorker;
const { api } = controlClient<any>(() => worker, () => ca.adminToken);

before(async () => {
  ca = await createThrowawayCa();
  worker = await startControlWorker({ vars: ca.vars });
});

after(async () => {
  await worker?.dispose();
});

function renew(node: KeyedNode, body: unknown) {
  return api("/v1/identity/renew", { token: node.jwt, json: body });
}

describe("renewal with proof of possession", () => {
  test("nonce, then a signed renewal: new credentials that openssl verifies, renewable again with the new key", async () => {
    let node = await attestKeyed(worker, ca.adminToken, "c1", "happy");
    for (let round = 0; round < 2; round++) {
      const { response, node: renewed } = await renewKeyed<any>(worker, node);
      assert.equal(response.status, 200, response.text);
      assert.equal(response.body.spiffeId, node.spiffeId);
      assert.notEqual(response.body.x509Svid.serial, node.serial);
      assert.match(await opensslVerify(ca.root.certificatePem, ca.intermediate.certificatePem, response.body.x509Svid.certificatePem), /OK$/);
      node = renewed as KeyedNode;
    }
    const audit = await api(`/v1/audit?target=${encodeURIComponent(node.spiffeId)}&action=identity.renew`, { token: ca.adminToken });
    assert.equal(audit.body.events.length, 2);
    assert.ok(audit.body.events.every((e: { detail: { previousSerial?: string } }) => typeof e.detail.previousSerial === "string"));
  });

  test("the chain PEM (leaf first) is accepted as the certificate", async () => {
    const node = await attestKeyed(worker, ca.adminToken, "c1", "chain");
    const { body } = await renewalBody(worker, node, { certificate: node.chainPem });
    assert.equal((await renew(node, body)).status, 200);
  });

  test("a JWT-SVID alone cannot renew: the old {csr} body is refused", async () => {
    const node = await attestKeyed(worker, ca.adminToken, "c1", "jwt-only");
    const r = await renew(node, { csr: await opensslCsr() });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.body.error.field, "nonce");
    const nodes = await api("/v1/identity/nodes", { token: ca.adminToken });
    assert.equal(nodes.body.nodes.find((n: { spiffeId: string }) => n.spiffeId === node.spiffeId).currentSerial, node.serial, "nothing issued");
  });

  test("a stolen JWT-SVID with the attacker's own key and the node's certificate: 401 on signature", async () => {
    const node = await attestKeyed(worker, ca.adminToken, "c1", "stolen");
    const attacker = await opensslKeyedCsr();
    const { body } = await renewalBody(worker, node, { signWith: attacker.key, csr: attacker });
    const r = await renew(node, body);
    assert.equal(r.status, 401, r.text);
    assert.equal(r.body.error.field, "signature");
    assert.equal(r.body.error.code, "ERR_RENEWAL_PROOF");
  });

  test("a certificate for the node's SPIFFE ID from a CA outside the bundle: 401 on certificate", async () => {
    const node = await attestKeyed(worker, ca.adminToken, "c1", "foreign-ca");
    const other = await createThrowawayCa({ trustDomain: ca.trustDomain });
    const signing = await loadSigningCa(other.intermediate);
    const attacker = await opensslKeyedCsr();
    const id = SpiffeId.parse(node.spiffeId);
    const forged = await issueX509Svid({ csr: await parseCsr(attacker.csr, id), spiffeId: id, ca: signing, clock: systemClock, ttlSeconds: 600 });
    const { body } = await renewalBody(worker, node, { signWith: attacker.key, certificate: forged.certificatePem });
    const r = await renew(node, body);
    assert.equal(r.status, 401, r.text);
    assert.equal(r.body.error.field, "certificate");
    assert.match(r.body.error.message, /not issued by a CA in the current trust bundle/);
  });

  test("another node's certificate and key: 401 on certificate", async () => {
    const node = await attestKeyed(worker, ca.adminToken, "c1", "victim-of-swap");
    const other = await attestKeyed(worker, ca.adminToken, "c1", "swapper");
    const { body } = await renewalBody(worker, node, { signWith: other.key, certificate: other.certificatePem });
    const r = await renew(node, body);
    assert.equal(r.status, 401, r.text);
    assert.equal(r.body.error.field, "certificate");
  });

  test("the previous certificate after a renewal is not the current one: 401", async () => {
    const node = await attestKeyed(worker, ca.adminToken, "c1", "previous");
    const first = await renewKeyed(worker, node);
    assert.equal(first.response.status, 200);
    const { body } = await renewalBody(worker, node);
    const r = await renew(first.node as KeyedNode, body);
    assert.equal(r.status, 401, r.text);
    assert.equal(r.body.error.field, "certificate");
    assert.match(r.body.error.message, /not the node's current X\.509-SVID/);
  });

  test("a nonce is single use, bound to its node, and bound to the CSR that was signed", async () => {
    const node = await attestKeyed(worker, ca.adminToken, "c1", "nonce-user");
    const other = await attestKeyed(worker, ca.adminToken, "c1", "nonce-other");

    // Another node's nonce, correctly signed by this node: refused.
    const foreignNonce = await renewalNonce(worker, other.jwt);
    const withForeign = await renewalBody(worker, node, { nonce: foreignNonce });
    const r1 = await renew(node, withForeign.body);
    assert.equal(r1.status, 401, r1.text);
    assert.equal(r1.body.error.field, "nonce");

    // A made-up nonce: refused.
    const madeUp = await renewalBody(worker, node, { nonce: "Z".repeat(43) });
    assert.equal((await renew(node, madeUp.body)).status, 401);

    // The signature covers the CSR: swapping the CSR breaks it.
    const signed = await renewalBody(worker, node);
    const swapped = await renew(node, { ...signed.body, csr: await opensslCsr() });
    assert.equal(swapped.status, 401, swapped.text);
    assert.equal(swapped.body.error.field, "signature");
    // ...and that refusal did not spend the nonce; the untouched request succeeds once.
    const ok = await renew(node, signed.body);
    assert.equal(ok.status, 200, ok.text);
    // Replaying it (even with the now-current certificate's JWT) is refused.
    const replay = await api("/v1/identity/renew", { token: ok.body.jwtSvid.token, json: signed.body });
    assert.equal(replay.status, 401, replay.text);
  });

  test("concurrent uses of one nonce: exactly one renewal", async () => {
    const node = await attestKeyed(worker, ca.adminToken, "c1", "racer");
    const { body } = await renewalBody(worker, node);
    const results = await Promise.all(Array.from({ length: 4 }, () => renew(node, body)));
    assert.deepEqual(results.map((r) => r.status).sort(), [200, 401, 401, 401]);
  });

  test("the nonce route is for nodes: 401 anonymous, 403 admin; a revoked node gets neither nonce nor renewal", async () => {
    assert.equal((await api("/v1/identity/renew/nonce", { method: "POST" })).status, 401);
    assert.equal((await api("/v1/identity/renew/nonce", { method: "POST", token: ca.adminToken })).status, 403);
    const node = await attestKeyed(worker, ca.adminToken, "c1", "revoked");
    const { body } = await renewalBody(worker, node);
    const revoke = await api("/v1/identity/revocations", { token: ca.adminToken, json: { spiffeId: node.spiffeId, reason: "test" } });
    assert.equal(revoke.status, 201);
    assert.equal((await api("/v1/identity/renew/nonce", { method: "POST", token: node.jwt })).status, 401);
    const r = await renew(node, body);
    assert.equal(r.status, 401);
    assert.match(r.body.error.message, /revoked/);
  });
});
