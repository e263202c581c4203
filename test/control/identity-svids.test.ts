// Node-authenticated issuance: renewal (the protocol's own tests are in identity-renewal.test.ts), workload X.509-SVIDs for registered
// identities only, registrations CRUD, and revocation end to end.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startControlWorker, type StartedWorker } from "../support/control-worker.ts";
import { createThrowawayCa, opensslCsr, opensslText, opensslVerify, type ThrowawayCa } from "../support/throwaway-ca.ts";
import { controlClient, type AttestedNode } from "../support/control-client.ts";
import { attestKeyed, renewKeyed } from "../support/identity-renewal.ts";

let ca: ThrowawayCa;
let worker: StartedWorker;

const { api, attest } = controlClient<any>(() => worker, () => ca.adminToken);

const td = () => ca.trustDomain;
const web = () => `spiffe://${td()}/ns/shop/sa/web`;
const db = () => `spiffe://${td()}/ns/shop/sa/db`;

let nodeA: AttestedNode;
let nodeB: AttestedNode;

before(async () => {
  ca = await createThrowawayCa();
  worker = await startControlWorker({ vars: ca.vars });
  nodeA = await attest("c1", "a");
  nodeB = await attest("c1", "b");
});

after(async () => {
  await worker?.dispose();
});

describe("registrations (admin)", () => {
  test("create, list, conflict, delete; node credentials get 403", async () => {
    const created = await api("/v1/identity/registrations", { token: ca.adminToken, json: { spiffeId: web(), node: nodeA.spiffeId } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.source, "admin");
    const dup = await api("/v1/identity/registrations", { token: ca.adminToken, json: { spiffeId: web(), node: nodeA.spiffeId } });
    assert.equal(dup.status, 409);
    const temp = await api("/v1/identity/registrations", { token: ca.adminToken, json: { spiffeId: db(), node: nodeB.spiffeId } });
    assert.equal(temp.status, 201);
    const listed = await api(`/v1/identity/registrations?node=${encodeURIComponent(nodeB.spiffeId)}`, { token: ca.adminToken });
    assert.deepEqual(listed.body.registrations.map((r: { spiffeId: string }) => r.spiffeId), [db()]);
    const removed = await api(`/v1/identity/registrations/${temp.body.id}`, { method: "DELETE", token: ca.adminToken });
    assert.equal(removed.status, 200);
    assert.equal((await api(`/v1/identity/registrations/${temp.body.id}`, { method: "DELETE", token: ca.adminToken })).status, 404);
    assert.equal((await api("/v1/identity/registrations", { token: nodeA.jwt })).status, 403);
  });

  test("concurrent identical registrations: exactly one 201, the rest 409", async () => {
    const json = { spiffeId: `spiffe://${td()}/ns/shop/sa/cache`, node: nodeB.spiffeId };
    const results = await Promise.all(Array.from({ length: 5 }, () => api("/v1/identity/registrations", { token: ca.adminToken, json })));
    assert.deepEqual(results.map((r) => r.status).sort(), [201, 409, 409, 409, 409]);
    const id = results.find((r) => r.status === 201)?.body.id;
    assert.equal((await api(`/v1/identity/registrations/${id}`, { method: "DELETE", token: ca.adminToken })).status, 200);
  });

  test("bad registrations name the field and write nothing", async () => {
    const cases: [unknown, string][] = [
      [{ spiffeId: "spiffe://other.domain/ns/a/sa/b", node: nodeA.spiffeId }, "spiffeId"],
      [{ spiffeId: `spiffe://${td()}/ns/a//b`, node: nodeA.spiffeId }, "spiffeId"],
      [{ spiffeId: nodeB.spiffeId, node: nodeA.spiffeId }, "spiffeId"],
      [{ spiffeId: web(), node: `spiffe://${td()}/ns/a/sa/b` }, "node"],
      [{ spiffeId: web() }, "node"],
      [{ spiffeId: 7, node: nodeA.spiffeId }, "spiffeId"],
    ];
    for (const [json, field] of cases) {
      const r = await api("/v1/identity/registrations", { token: ca.adminToken, json });
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.error.field, field, JSON.stringify(r.body));
    }
    const all = await api("/v1/identity/registrations", { token: ca.adminToken });
    assert.deepEqual(all.body.registrations.map((r: { spiffeId: string }) => r.spiffeId), [web()]);
  });
});

describe("workload SVIDs", () => {
  test("a node gets an X.509-SVID for an identity registered to it; openssl verifies it", async () => {
    const r = await api("/v1/identity/svids", { token: nodeA.jwt, json: { requests: [{ spiffeId: web(), csr: await opensslCsr() }] } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.svids.length, 1);
    const svid = r.body.svids[0];
    assert.equal(svid.spiffeId, web());
    assert.match(await opensslVerify(ca.root.certificatePem, ca.intermediate.certificatePem, svid.certificatePem), /OK$/);
    assert.ok((await opensslText(svid.certificatePem)).includes(`URI:${web()}`));
    const issued = await api(`/v1/identity/svids?spiffeId=${encodeURIComponent(web())}`, { token: ca.adminToken });
    assert.deepEqual(issued.body.svids.map((s: { serial: string; node: string }) => [s.serial, s.node]), [[svid.serial, nodeA.spiffeId]]);
  });

  test("an identity not registered to the calling node is 403 and nothing is issued", async () => {
    const r = await api("/v1/identity/svids", { token: nodeB.jwt, json: { requests: [{ spiffeId: web(), csr: await opensslCsr() }] } });
    assert.equal(r.status, 403);
    assert.equal(r.body.error.field, "requests[0].spiffeId");
    const issued = await api(`/v1/identity/svids?node=${encodeURIComponent(nodeB.spiffeId)}&spiffeId=${encodeURIComponent(web())}`, { token: ca.adminToken });
    assert.equal(issued.body.svids.length, 0);
  });

  test("a batch with one unregistered identity issues nothing", async () => {
    const before = (await api(`/v1/identity/svids?node=${encodeURIComponent(nodeA.spiffeId)}`, { token: ca.adminToken })).body.svids.length;
    const r = await api("/v1/identity/svids", {
      token: nodeA.jwt,
      json: { requests: [{ spiffeId: web(), csr: await opensslCsr() }, { spiffeId: db(), csr: await opensslCsr() }] },
    });
    assert.equal(r.status, 403);
    assert.equal(r.body.error.field, "requests[1].spiffeId");
    const afterCount = (await api(`/v1/identity/svids?node=${encodeURIComponent(nodeA.spiffeId)}`, { token: ca.adminToken })).body.svids.length;
    assert.equal(afterCount, before);
  });

  test("admin and anonymous callers are refused (403 / 401)", async () => {
    const json = { requests: [{ spiffeId: web(), csr: await opensslCsr() }] };
    assert.equal((await api("/v1/identity/svids", { token: ca.adminToken, json })).status, 403);
    assert.equal((await api("/v1/identity/svids", { json })).status, 401);
  });

  test("bad requests name the field: CSR for another identity, two URI SANs, empty list", async () => {
    const mismatch = await api("/v1/identity/svids", { token: nodeA.jwt, json: { requests: [{ spiffeId: web(), csr: await opensslCsr({ uris: [db()] }) }] } });
    assert.equal(mismatch.status, 400);
    assert.equal(mismatch.body.error.field, "requests[0].csr");
    assert.equal(mismatch.body.error.code, "ERR_CSR_IDENTITY_MISMATCH");
    const two = await api("/v1/identity/svids", { token: nodeA.jwt, json: { requests: [{ spiffeId: web(), csr: await opensslCsr({ uris: [web(), db()] }) }] } });
    assert.equal(two.status, 400);
    assert.equal(two.body.error.field, "requests[0].csr");
    const empty = await api("/v1/identity/svids", { token: nodeA.jwt, json: { requests: [] } });
    assert.equal(empty.status, 400);
    assert.equal(empty.body.error.field, "requests");
    const badId = await api("/v1/identity/svids", { token: nodeA.jwt, json: { requests: [{ spiffeId: "spiffe://x/Y/", csr: await opensslCsr() }] } });
    assert.equal(badId.status, 400);
    assert.equal(badId.body.error.field, "requests[0].spiffeId");
  });
});

describe("renewal", () => {
  test("a node renews its own SVID (JWT-SVID + proof of possession of its current key); the new serial is recorded", async () => {
    const keyed = await attestKeyed(worker, ca.adminToken, "c1", "renewer");
    const { response: r } = await renewKeyed<any>(worker, keyed);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.spiffeId, keyed.spiffeId);
    assert.notEqual(r.body.x509Svid.serial, keyed.serial);
    assert.match(await opensslVerify(ca.root.certificatePem, ca.intermediate.certificatePem, r.body.x509Svid.certificatePem), /OK$/);
    const nodes = await api("/v1/identity/nodes", { token: ca.adminToken });
    const row = nodes.body.nodes.find((n: { spiffeId: string }) => n.spiffeId === keyed.spiffeId);
    assert.equal(row.currentSerial, r.body.x509Svid.serial);
    // The fresh JWT-SVID works too.
    assert.equal((await api("/v1/identity/revocations", { token: r.body.jwtSvid.token })).status, 200);
  });

  test("a tampered JWT-SVID is 401", async () => {
    const [h, p, s] = nodeA.jwt.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, "base64url").toString());
    claims.sub = nodeB.spiffeId;
    const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${s}`;
    const r = await api("/v1/identity/renew", { token: forged, json: { csr: await opensslCsr() } });
    assert.equal(r.status, 401);
  });
});

describe("revocation", () => {
  let victim: AttestedNode;

  before(async () => {
    victim = await attest("c2", "victim");
    const reg = await api("/v1/identity/registrations", { token: ca.adminToken, json: { spiffeId: db(), node: victim.spiffeId } });
    assert.equal(reg.status, 201);
    assert.equal((await api("/v1/identity/svids", { token: victim.jwt, json: { requests: [{ spiffeId: db(), csr: await opensslCsr() }] } })).status, 200);
  });

  test("only admin may revoke; bad input names the field", async () => {
    assert.equal((await api("/v1/identity/revocations", { json: { spiffeId: victim.spiffeId, reason: "x" } })).status, 401);
    assert.equal((await api("/v1/identity/revocations", { token: nodeA.jwt, json: { spiffeId: victim.spiffeId, reason: "x" } })).status, 403);
    const notNode = await api("/v1/identity/revocations", { token: ca.adminToken, json: { spiffeId: web(), reason: "x" } });
    assert.equal(notNode.status, 400);
    assert.equal(notNode.body.error.field, "spiffeId");
    const noReason = await api("/v1/identity/revocations", { token: ca.adminToken, json: { spiffeId: victim.spiffeId } });
    assert.equal(noReason.status, 400);
    assert.equal(noReason.body.error.field, "reason");
    const list = await api("/v1/identity/revocations", { token: ca.adminToken });
    assert.equal(list.body.revocations.length, 0);
  });

  test("after revocation the node's JWT-SVID is refused, it cannot renew, get SVIDs or re-attest, and it is listed", async () => {
    const before = await api("/v1/identity/revocations", { token: ca.adminToken });
    const r = await api("/v1/identity/revocations", { token: ca.adminToken, json: { spiffeId: victim.spiffeId, reason: "key compromise" } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal((await api("/v1/identity/revocations", { token: ca.adminToken, json: { spiffeId: victim.spiffeId, reason: "again" } })).status, 409);

    const renew = await api("/v1/identity/renew", { token: victim.jwt, json: { csr: await opensslCsr() } });
    assert.equal(renew.status, 401);
    assert.match(renew.body.error.message, /revoked/);
    const svids = await api("/v1/identity/svids", { token: victim.jwt, json: { requests: [{ spiffeId: db(), csr: await opensslCsr() }] } });
    assert.equal(svids.status, 401);

    const t = await api("/v1/identity/join-tokens", { token: ca.adminToken, json: { cluster: "c2", node: "victim" } });
    const reattest = await api("/v1/identity/attest", { json: { csr: await opensslCsr(), joinToken: t.body.token } });
    assert.equal(reattest.status, 403);
    assert.equal(reattest.body.error.code, "ERR_REVOKED");

    const list = await api("/v1/identity/revocations", { token: nodeA.jwt });
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.revocations.map((x: { spiffeId: string; reason: string }) => [x.spiffeId, x.reason]), [[victim.spiffeId, "key compromise"]]);
    assert.ok(list.body.sequence > before.body.sequence);
    const nodes = await api("/v1/identity/nodes", { token: ca.adminToken });
    assert.equal(nodes.body.nodes.find((n: { spiffeId: string }) => n.spiffeId === victim.spiffeId).revoked, true);

    const audit = await api(`/v1/audit?target=${encodeURIComponent(victim.spiffeId)}&action=identity.revoke`, { token: ca.adminToken });
    assert.equal(audit.body.events.length, 1);
    assert.equal(audit.body.events[0].detail.reason, "key compromise");
    // Other nodes are unaffected.
    assert.equal((await api("/v1/identity/revocations", { token: nodeB.jwt })).status, 200);
  });
});
