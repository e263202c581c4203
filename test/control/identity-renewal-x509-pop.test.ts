// Node renewal by proof of possession of the X.509-SVID key ALONE (no JWT-SVID), as a SPIRE agent
// renews with its SVID: a node whose JWT-SVID expired during an outage renews with
// `POST /v1/identity/renew/nonce {certificate}` then `POST /v1/identity/renew` without Authorization.
// What must still be refused: an expired X.509-SVID, another node's X.509-SVID, a certificate
// without its key, a replayed nonce, a revoked node, a previous certificate, a foreign CA.
// Real workerd, real openssl keys; the control plane's clock is the real one, so the expiry case
// uses a worker issuing 6-second X.509-SVIDs and waits for one to lapse.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { systemClock } from "../../src/core/clock.ts";
import { loadSigningCa } from "../../src/identity/ca.ts";
import { parseCsr } from "../../src/identity/csr.ts";
import { signRenewalProof } from "../../src/identity/renewal-proof.ts";
import { SpiffeId } from "../../src/identity/spiffe-id.ts";
import { issueX509Svid } from "../../src/identity/x509-svid.ts";
import { startControlWorker, type StartedWorker } from "../support/control-worker.ts";
import { createThrowawayCa, opensslCsr, opensslVerify, type ThrowawayCa } from "../support/throwaway-ca.ts";
import { callApi, type ApiResponse } from "../support/control-client.ts";
import { attestKeyed, opensslKeyedCsr, renewalNonce, type KeyedCsr, type KeyedNode } from "../support/identity-renewal.ts";

const SHORT_TTL = 6;
let ca: ThrowawayCa;
let worker: StartedWorker;
let shortLived: StartedWorker;

before(async () => {
  ca = await createThrowawayCa();
  [worker, shortLived] = await Promise.all([
    startControlWorker({ vars: ca.vars }),
    startControlWorker({ vars: { ...ca.vars, X509_SVID_TTL_SECONDS: String(SHORT_TTL) } }),
  ]);
});

after(async () => {
  await Promise.all([worker?.dispose(), shortLived?.dispose()]);
});

type Answer = { error?: { code: string; field?: string; message: string }; nonce?: string; spiffeId?: string; x509Svid?: { serial: string; certificatePem: string; chainPem: string }; jwtSvid?: { token: string } };

/** Step 1 without a JWT-SVID: the node's certificate names it. */
function anonymousNonce(w: StartedWorker, certificate: unknown): Promise<ApiResponse<Answer>> {
  return callApi<Answer>(w, "/v1/identity/renew/nonce", { json: { certificate } });
}

/** Step 2 without a JWT-SVID. */
function anonymousRenew(w: StartedWorker, body: unknown): Promise<ApiResponse<Answer>> {
  return callApi<Answer>(w, "/v1/identity/renew", { json: body });
}

/** A full renewal body for `node`'s certificate, signed with `signWith` (default the node's key). */
async function popBody(w: StartedWorker, node: KeyedNode, o: { nonce?: string; signWith?: CryptoKey; csr?: KeyedCsr; certificate?: string } = {}) {
  const next = o.csr ?? (await opensslKeyedCsr());
  const certificate = o.certificate ?? node.chainPem;
  let nonce = o.nonce;
  if (nonce === undefined) {
    const r = await anonymousNonce(w, certificate);
    assert.equal(r.status, 201, r.text);
    nonce = r.body.nonce as string;
  }
  const signature = await signRenewalProof(o.signWith ?? node.key, { nonce, spiffeId: node.spiffeId, csr: next.csr });
  return { body: { csr: next.csr, nonce, certificate, signature }, next };
}

async function currentSerial(spiffeId: string): Promise<string> {
  const r = await callApi<{ nodes: { spiffeId: string; currentSerial: string }[] }>(worker, "/v1/identity/nodes", { token: ca.adminToken });
  return r.body.nodes.find((n) => n.spiffeId === spiffeId)?.currentSerial ?? "";
}

function assertRefused(r: ApiResponse<Answer>, status: number, field: string, message?: RegExp): void {
  assert.equal(r.status, status, r.text);
  assert.equal(r.body.error?.field, field, r.text);
  if (message !== undefined) assert.match(r.body.error?.message ?? "", message);
}

describe("renewal by X.509-SVID proof of possession alone (no JWT-SVID)", () => {
  test("nonce by certificate, signed renewal without Authorization: new credentials (openssl verifies), a fresh JWT-SVID, renewable again", async () => {
    let node = await attestKeyed(worker, ca.adminToken, "c1", "pop-happy");
    for (let round = 0; round < 2; round++) {
      const nonce = await anonymousNonce(worker, node.chainPem);
      assert.equal(nonce.status, 201, nonce.text);
      assert.equal(nonce.body.spiffeId, node.spiffeId);
      const { body, next } = await popBody(worker, node, { nonce: nonce.body.nonce as string });
      const r = await anonymousRenew(worker, body);
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.spiffeId, node.spiffeId);
      assert.notEqual(r.body.x509Svid?.serial, node.serial);
      assert.match(await opensslVerify(ca.root.certificatePem, ca.intermediate.certificatePem, r.body.x509Svid?.certificatePem as string), /OK$/);
      // The new JWT-SVID authenticates the node again (long-poll, SVIDs, ...).
      const jwt = r.body.jwtSvid?.token as string;
      assert.equal((await callApi(worker, "/v1/identity/renew/nonce", { method: "POST", token: jwt })).status, 201);
      node = { ...node, jwt, serial: r.body.x509Svid?.serial as string, certificatePem: r.body.x509Svid?.certificatePem as string, chainPem: r.body.x509Svid?.chainPem as string, key: next.key };
      assert.equal(await currentSerial(node.spiffeId), node.serial);
    }
    const audit = await callApi<{ events: { actor: string; detail: { proof?: string; previousSerial?: string } }[] }>(
      worker,
      `/v1/audit?target=${encodeURIComponent(node.spiffeId)}&action=identity.renew`,
      { token: ca.adminToken },
    );
    assert.equal(audit.body.events.length, 2);
    assert.ok(audit.body.events.every((e) => e.detail.proof === "x509-pop" && e.actor === `node:${node.spiffeId}` && typeof e.detail.previousSerial === "string"), audit.text);
  });

  test("the JWT-SVID path is unchanged: with a valid JWT-SVID the nonce needs no body and the proof renews", async () => {
    const node = await attestKeyed(worker, ca.adminToken, "c1", "pop-jwt-too");
    const nonce = await renewalNonce(worker, node.jwt);
    const { body } = await popBody(worker, node, { nonce });
    const r = await callApi<Answer>(worker, "/v1/identity/renew", { token: node.jwt, json: body });
    assert.equal(r.status, 200, r.text);
  });

  test("an X.509-SVID of another node cannot renew this node", async () => {
    const victim = await attestKeyed(worker, ca.adminToken, "c1", "pop-victim");
    const other = await attestKeyed(worker, ca.adminToken, "c1", "pop-other");
    // A nonce the victim's certificate obtained, signed by the other node with its own certificate: the nonce is the victim's.
    const victimNonce = (await anonymousNonce(worker, victim.chainPem)).body.nonce as string;
    const otherSigned = await popBody(worker, other, { nonce: victimNonce });
    assertRefused(await anonymousRenew(worker, otherSigned.body), 401, "nonce", /issued to another node/);
    // The victim's certificate with the other node's key (the certificate is public, the key is not).
    const wrongKey = await popBody(worker, victim, { signWith: other.key });
    assertRefused(await anonymousRenew(worker, wrongKey.body), 401, "signature");
    // The other node's own valid proof with a CSR naming the victim: the identity comes from the certificate.
    const next = await opensslKeyedCsr();
    const namingVictim = { csr: await opensslCsr({ uris: [victim.spiffeId] }), key: next.key, keyPem: next.keyPem };
    const csrForVictim = await popBody(worker, other, { csr: namingVictim });
    const r = await anonymousRenew(worker, csrForVictim.body);
    assert.equal(r.status, 400, r.text);
    assert.equal(r.body.error?.field, "csr");
    // The other node's JWT-SVID with the victim's certificate and a victim-signed proof: refused on certificate.
    const mixed = await popBody(worker, victim);
    assertRefused(await callApi<Answer>(worker, "/v1/identity/renew", { token: other.jwt, json: mixed.body }), 401, "certificate", /is not an X\.509-SVID for/);
    assert.equal(await currentSerial(victim.spiffeId), victim.serial, "nothing was issued for the victim");
  });

  test("an expired X.509-SVID cannot renew, even with a nonce obtained while it was valid (401 certificate)", async () => {
    const node = await attestKeyed(shortLived, ca.adminToken, "c1", "pop-expiring");
    const nonce = await anonymousNonce(shortLived, node.chainPem);
    assert.equal(nonce.status, 201, `nonce while the ${SHORT_TTL}-second certificate is valid: ${nonce.text}`);
    const { body } = await popBody(shortLived, node, { nonce: nonce.body.nonce as string });
    const wait = Date.parse(node.notAfter) - Date.now() + 1000;
    await new Promise((r) => setTimeout(r, Math.max(0, wait)));
    assertRefused(await anonymousRenew(shortLived, body), 401, "certificate", /not valid now.*attest again/);
    assertRefused(await anonymousNonce(shortLived, node.chainPem), 401, "certificate", /not valid now/);
  });

  test("a replayed proof, a previous certificate, a foreign CA's certificate, a workload SVID and a revoked node are refused", async () => {
    const node = await attestKeyed(worker, ca.adminToken, "c1", "pop-refusals");
    const { body, next } = await popBody(worker, node);
    const first = await anonymousRenew(worker, body);
    assert.equal(first.status, 200, first.text);
    assertRefused(await anonymousRenew(worker, body), 401, "certificate", /not the node's current X\.509-SVID/);
    assertRefused(await anonymousNonce(worker, node.chainPem), 401, "certificate", /not the node's current/);

    // A nonce is single use: replaying a spent one with the now-current certificate fails on the nonce.
    const renewed: KeyedNode = { ...node, serial: first.body.x509Svid?.serial as string, chainPem: first.body.x509Svid?.chainPem as string, certificatePem: first.body.x509Svid?.certificatePem as string, key: next.key };
    const replay = await popBody(worker, renewed, { nonce: body.nonce });
    assertRefused(await anonymousRenew(worker, replay.body), 401, "nonce");

    // Same SPIFFE ID, issued by a CA outside the bundle.
    const other = await createThrowawayCa({ trustDomain: ca.trustDomain });
    const attacker = await opensslKeyedCsr();
    const id = SpiffeId.parse(node.spiffeId);
    const forged = await issueX509Svid({ csr: await parseCsr(attacker.csr, id), spiffeId: id, ca: await loadSigningCa(other.intermediate), clock: systemClock, ttlSeconds: 600 });
    assertRefused(await anonymousNonce(worker, forged.certificatePem), 401, "certificate", /not issued by a CA in the current trust bundle/);

    // A workload identity is not a node.
    const workload = await issueX509Svid({ csr: await parseCsr(attacker.csr, SpiffeId.parse(`spiffe://${ca.trustDomain}/ns/shop/sa/web`)), spiffeId: SpiffeId.parse(`spiffe://${ca.trustDomain}/ns/shop/sa/web`), ca: await loadSigningCa(ca.intermediate), clock: systemClock, ttlSeconds: 600 });
    assertRefused(await anonymousNonce(worker, workload.certificatePem), 401, "certificate", /node SPIFFE ID/);

    // Revoked: neither nonce nor renewal, even with a nonce obtained before.
    const pending = await popBody(worker, renewed);
    const revoke = await callApi(worker, "/v1/identity/revocations", { token: ca.adminToken, json: { spiffeId: node.spiffeId, reason: "test" } });
    assert.equal(revoke.status, 201, revoke.text);
    const refusedNonce = await anonymousNonce(worker, renewed.chainPem);
    assertRefused(refusedNonce, 403, "certificate", /revoked/);
    assert.equal(refusedNonce.body.error?.code, "ERR_REVOKED");
    assertRefused(await anonymousRenew(worker, pending.body), 403, "certificate", /revoked/);
  });

  test("bad input without a JWT-SVID: a clear 4xx naming the field", async () => {
    const noBody = await callApi<Answer>(worker, "/v1/identity/renew/nonce", { method: "POST" });
    assertRefused(noBody, 401, "certificate", /Authorization: Bearer <node JWT-SVID>, or the body \{"certificate"/);
    assertRefused(await callApi<Answer>(worker, "/v1/identity/renew", { method: "POST" }), 401, "certificate", /Authorization: Bearer <node JWT-SVID>/);
    assertRefused(await callApi<Answer>(worker, "/v1/identity/renew/nonce", { json: {} }), 400, "certificate");
    assertRefused(await callApi<Answer>(worker, "/v1/identity/renew/nonce", { json: { certificate: "x", extra: 1 } }), 400, "extra");
    assertRefused(await anonymousNonce(worker, 42), 400, "certificate");
    assertRefused(await anonymousNonce(worker, "not pem"), 400, "certificate");
    assertRefused(await anonymousNonce(worker, "-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n"), 400, "certificate");
    assertRefused(await anonymousNonce(worker, "A".repeat(20_000)), 400, "certificate");
    const node = await attestKeyed(worker, ca.adminToken, "c1", "pop-bad-input");
    const { body } = await popBody(worker, node);
    assertRefused(await anonymousRenew(worker, { ...body, signature: "!!" }), 401, "signature");
    assertRefused(await anonymousRenew(worker, { ...body, nonce: "short" }), 401, "nonce", /not a nonce/);
    assertRefused(await anonymousRenew(worker, { ...body, certificate: "not pem" }), 400, "certificate");
    const { certificate: _c, ...withoutCertificate } = body;
    assertRefused(await anonymousRenew(worker, withoutCertificate), 400, "certificate");
    // None of these spent the nonce: the untouched request still renews once.
    assert.equal((await anonymousRenew(worker, body)).status, 200);
  });

  test("a flood of nonces for one node is capped (409 certificate), then the node can still renew with one it holds", async () => {
    const node = await attestKeyed(worker, ca.adminToken, "c1", "pop-flood");
    const statuses: number[] = [];
    let held: string | undefined;
    for (let i = 0; i < 17; i++) {
      const r = await anonymousNonce(worker, node.chainPem);
      statuses.push(r.status);
      held ??= r.body.nonce;
      if (r.status !== 201) assertRefused(r, 409, "certificate", /already unspent/);
    }
    assert.deepEqual(statuses, [...Array(16).fill(201), 409]);
    const { body } = await popBody(worker, node, { nonce: held as string });
    assert.equal((await anonymousRenew(worker, body)).status, 200);
  });
});
