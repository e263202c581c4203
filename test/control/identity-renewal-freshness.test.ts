// Issue 6, finding 7a, the gaps identity-renewal.test.ts leaves: a renewal nonce older than
// its 60 s lifetime is refused, and the proof must be signed by the node's CURRENT X.509-SVID
// key (not the key it had before its last renewal, nor the key of the CSR it is sending).
// Real workerd and real keys. The worker has no clock a test can move, so the nonce is aged
// the real way: the worker is stopped, the nonce's row is moved 61 s into the past in its
// local D1 (wrangler d1 execute), and the worker is started again on the same state.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createThrowawayCa, type ThrowawayCa } from "../support/throwaway-ca.ts";
import { callApi } from "../support/control-client.ts";
import { d1Execute, startRestartableControlWorker, type RestartableControlWorker } from "../support/identity-d1.ts";
import { attestKeyed, renewKeyed, renewalBody, type KeyedNode } from "../support/identity-renewal.ts";

const NONCE_LIFETIME_MS = 60_000;
let ca: ThrowawayCa;
let control: RestartableControlWorker;

before(async () => {
  ca = await createThrowawayCa();
  control = await startRestartableControlWorker(ca.vars);
});

after(async () => {
  await control?.dispose();
});

interface ErrorBody {
  error: { code: string; field?: string; message: string };
}

function renew(node: KeyedNode, body: unknown) {
  return callApi<ErrorBody & { spiffeId: string }>(control.worker, "/v1/identity/renew", { token: node.jwt, json: body });
}

function currentSerial(spiffeId: string): Promise<string> {
  return callApi<{ nodes: { spiffeId: string; currentSerial: string }[] }>(control.worker, "/v1/identity/nodes", { token: ca.adminToken }).then(
    (r) => r.body.nodes.find((n) => n.spiffeId === spiffeId)?.currentSerial ?? "",
  );
}

describe("renewal nonces expire after 60 s", () => {
  test("a nonce issued 61 s ago is refused naming nonce; the same node, key and certificate renew with a fresh one", async () => {
    const node = await attestKeyed(control.worker, ca.adminToken, "c1", "aged");

    // The lifetime the route announces is 60 s from when the worker issued it.
    const t0 = Date.now();
    const issued = await callApi<{ nonce: string; expiresAt: string }>(control.worker, "/v1/identity/renew/nonce", { method: "POST", token: node.jwt });
    const t1 = Date.now();
    assert.equal(issued.status, 201, issued.text);
    const expiresAt = Date.parse(issued.body.expiresAt);
    assert.ok(expiresAt >= t0 + NONCE_LIFETIME_MS - 1 && expiresAt <= t1 + NONCE_LIFETIME_MS + 1, `expiresAt ${issued.body.expiresAt} is 60 s after issue`);

    // A correctly signed renewal with that nonce, not sent yet.
    const stale = await renewalBody(control.worker, node, { nonce: issued.body.nonce });
    const hash = createHash("sha256").update(issued.body.nonce).digest("hex");

    // Age it: as if it had been issued 61 s ago (created_at and expires_at both moved back).
    await control.restartAfter(async (dir) => {
      await d1Execute(dir, `UPDATE renewal_nonces SET created_at = created_at - 61000, expires_at = expires_at - 61000 WHERE nonce_hash = '${hash}'`);
    });
    const [row] = await d1Execute(control.persistDir, `SELECT spiffe_id, created_at, expires_at, used_at FROM renewal_nonces WHERE nonce_hash = '${hash}'`);
    assert.ok(row !== undefined, "the aged nonce is still stored");
    assert.equal(row["spiffe_id"], node.spiffeId);
    assert.equal(row["used_at"], null, "unused");
    assert.equal(Number(row["expires_at"]) - Number(row["created_at"]), NONCE_LIFETIME_MS);
    assert.ok(Number(row["expires_at"]) < Date.now(), "its 60 s have passed");

    const refused = await renew(node, stale.body);
    assert.equal(refused.status, 401, refused.text);
    assert.equal(refused.body.error.code, "ERR_RENEWAL_PROOF");
    assert.equal(refused.body.error.field, "nonce");
    assert.match(refused.body.error.message, /expired/);
    assert.equal(await currentSerial(node.spiffeId), node.serial, "nothing issued");

    // Only the nonce's age was wrong: the same node and certificate renew with a fresh nonce.
    const { response } = await renewKeyed(control.worker, node);
    assert.equal(response.status, 200, response.text);
  });
});

describe("the proof must be signed by the node's current X.509-SVID key", () => {
  test("after a renewal, the previous key (with the current certificate) is refused naming signature; the current key renews", async () => {
    const first = await attestKeyed(control.worker, ca.adminToken, "c1", "rekeyed");
    const renewed = await renewKeyed(control.worker, first);
    assert.equal(renewed.response.status, 200, renewed.response.text);
    const current = renewed.node as KeyedNode;

    // The current certificate, signed with the key of the certificate it replaced.
    const withOldKey = await renewalBody(control.worker, current, { signWith: first.key });
    const refused = await renew(current, withOldKey.body);
    assert.equal(refused.status, 401, refused.text);
    assert.equal(refused.body.error.code, "ERR_RENEWAL_PROOF");
    assert.equal(refused.body.error.field, "signature");
    assert.equal(await currentSerial(current.spiffeId), current.serial, "nothing issued");

    // The refusal did not spend the nonce: the same nonce, signed with the current key, renews once.
    const withCurrentKey = await renewalBody(control.worker, current, { nonce: withOldKey.body.nonce });
    const ok = await renew(current, withCurrentKey.body);
    assert.equal(ok.status, 200, ok.text);
  });

  test("signing with the key of the CSR being sent (the next key, not the current one) is refused naming signature", async () => {
    const node = await attestKeyed(control.worker, ca.adminToken, "c1", "next-key");
    const { body, next } = await renewalBody(control.worker, node);
    const selfSigned = await renewalBody(control.worker, node, { csr: next, signWith: next.key });
    const refused = await renew(node, selfSigned.body);
    assert.equal(refused.status, 401, refused.text);
    assert.equal(refused.body.error.field, "signature");
    assert.equal((await renew(node, body)).status, 200);
  });
});
