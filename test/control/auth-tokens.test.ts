// Authentication in the control worker (real workerd): admin token, node JWT-SVIDs and
// scoped API tokens; admin routes refuse everyone else; refusals are audited.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { startControlWorker, type StartedWorker } from "../support/control-worker.ts";
import { createThrowawayCa, type ThrowawayCa } from "../support/throwaway-ca.ts";
import { controlClient } from "../support/control-client.ts";

let ca: ThrowawayCa;
let worker: StartedWorker;
let nodeJwt: string;

const { api, attest } = controlClient<any>(() => worker, () => ca.adminToken);

async function mintToken(json: unknown): Promise<{ id: string; token: string; expiresAt: string }> {
  const r = await api("/v1/tokens", { token: ca.adminToken, json });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

before(async () => {
  ca = await createThrowawayCa();
  worker = await startControlWorker({ vars: ca.vars });
  nodeJwt = (await attest("c1", "n1")).jwt;
});

after(async () => {
  await worker?.dispose();
});

const adminRoutes: { method: string; path: string; json?: unknown }[] = [
  { method: "GET", path: "/v1/identity/nodes" },
  { method: "GET", path: "/v1/identity/ca" },
  { method: "GET", path: "/v1/identity/svids" },
  { method: "GET", path: "/v1/identity/registrations" },
  { method: "GET", path: "/v1/audit" },
  { method: "GET", path: "/v1/tokens" },
  { method: "POST", path: "/v1/tokens", json: { subject: "ci", namespaces: ["*"], access: "write" } },
  { method: "POST", path: "/v1/identity/join-tokens", json: { cluster: "c1", node: "x" } },
  { method: "POST", path: "/v1/identity/revocations", json: { spiffeId: "spiffe://strait.local/node/c1/x", reason: "r" } },
  { method: "POST", path: "/v1/identity/ca/activate", json: { generation: 1 } },
  { method: "POST", path: "/v1/identity/ca/stage", json: { certificatePem: "x", privateKeyPem: "y" } },
  { method: "POST", path: "/v1/identity/registrations", json: { spiffeId: "spiffe://strait.local/ns/a/sa/b", node: "spiffe://strait.local/node/c1/n1" } },
  { method: "GET", path: "/v1/identity/registrations?node=spiffe://strait.local/node/c1/n1" },
  { method: "DELETE", path: "/v1/identity/registrations/none" },
  { method: "DELETE", path: "/v1/tokens/none" },
  { method: "PATCH", path: "/v1/tokens/none", json: { access: "read" } },
  { method: "POST", path: "/v1/tokens/keys/rotate", json: {} },
];

describe("admin routes", () => {
  test("401 without a token, 401 with a wrong one, 403 with a node's JWT-SVID or an API token", async () => {
    const apiToken = (await mintToken({ subject: "ops", namespaces: ["*"], access: "write" })).token;
    for (const route of adminRoutes) {
      const where = `${route.method} ${route.path}`;
      const none = await api(route.path, { method: route.method, json: route.json });
      assert.equal(none.status, 401, where);
      assert.equal(none.headers.get("www-authenticate"), 'Bearer realm="strait"', where);
      assert.equal((await api(route.path, { method: route.method, json: route.json, token: `${ca.adminToken}x` })).status, 401, where);
      assert.equal((await api(route.path, { method: route.method, json: route.json, token: nodeJwt })).status, 403, where);
      assert.equal((await api(route.path, { method: route.method, json: route.json, token: apiToken })).status, 403, where);
    }
  });

  test("a malformed Authorization header is 401 naming the header", async () => {
    for (const authorization of ["Basic YWRtaW46YWRtaW4=", "Bearer", "Bearer a b", "token"]) {
      const r = await api("/v1/identity/nodes", { authorization });
      assert.equal(r.status, 401, authorization);
      assert.equal(r.body.error.field, "Authorization");
    }
  });

  test("every refusal is in the audit log with the caller", async () => {
    await api("/v1/identity/ca", { token: nodeJwt });
    const r = await api(`/v1/audit?outcome=denied&target=${encodeURIComponent("/v1/identity/ca")}`, { token: ca.adminToken });
    const actors = r.body.events.map((e: { actor: string }) => e.actor);
    // Refusals of callers without credentials are counted per source and minute, not a row each.
    const anonymous = await api("/v1/audit/refusals", { token: ca.adminToken });
    assert.ok(anonymous.body.refusals.some((x: { count: number }) => x.count > 0), anonymous.text);
    assert.ok(actors.includes("node:spiffe://strait.local/node/c1/n1"));
    assert.ok(actors.some((a: string) => a.startsWith("token:")));
  });
});

describe("scoped API tokens", () => {
  test("minted as an ES256 JWT (typ strait-api+jwt, aud strait-control) signed by the API-token key, never a SPIFFE bundle key; listed without the secret", async () => {
    const minted = await mintToken({ subject: "deployer", namespaces: ["shop", "blog"], access: "read", ttlSeconds: 3600 });
    const header = decodeProtectedHeader(minted.token);
    assert.equal(header.typ, "strait-api+jwt");
    assert.equal(header.alg, "ES256");
    // Issue 6 finding 7: API tokens have their own key, published apart from the trust bundle.
    const bundle = await api("/.well-known/spiffe-bundle");
    assert.equal(bundle.body.keys.some((k: { kid?: string }) => k.kid === header.kid), false);
    const keys = await api("/v1/tokens/keys");
    assert.equal(keys.status, 200);
    assert.ok(keys.body.keys.some((k: { kid: string; status: string; d?: string }) => k.kid === header.kid && k.status === "active" && k.d === undefined));
    const claims = decodeJwt(minted.token);
    assert.equal(claims.aud, "strait-control");
    assert.equal(claims.sub, "deployer");
    assert.deepEqual(claims["ns"], ["shop", "blog"]);
    assert.equal(claims["access"], "read");
    assert.equal(claims.jti, minted.id);
    assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), 3600);
    const list = await api("/v1/tokens", { token: ca.adminToken });
    const row = list.body.tokens.find((t: { id: string }) => t.id === minted.id);
    assert.deepEqual({ subject: row.subject, namespaces: row.namespaces, access: row.access, revokedAt: row.revokedAt }, { subject: "deployer", namespaces: ["shop", "blog"], access: "read", revokedAt: null });
    assert.equal(JSON.stringify(list.body).includes(minted.token), false);
  });

  test("an API token authenticates (reads revocations are refused 403, not 401) until revoked, then 401", async () => {
    const minted = await mintToken({ subject: "reader", namespaces: ["*"], access: "read" });
    const live = await api("/v1/identity/revocations", { token: minted.token });
    assert.equal(live.status, 403, "authenticated, but not a node or admin");
    const revoked = await api(`/v1/tokens/${minted.id}`, { method: "DELETE", token: ca.adminToken });
    assert.equal(revoked.status, 200);
    assert.notEqual(revoked.body.revokedAt, null);
    const dead = await api("/v1/identity/revocations", { token: minted.token });
    assert.equal(dead.status, 401);
    assert.match(dead.body.error.message, /revoked/);
    assert.equal((await api(`/v1/tokens/${minted.id}`, { method: "DELETE", token: ca.adminToken })).status, 409);
    const audit = await api(`/v1/audit?action=token.revoke&target=${encodeURIComponent(`token:${minted.id}`)}`, { token: ca.adminToken });
    assert.equal(audit.body.events.length, 1);
  });

  test("a tampered or foreign-signed token is 401", async () => {
    const minted = await mintToken({ subject: "x", namespaces: ["shop"], access: "read" });
    const [h, p, s] = minted.token.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, "base64url").toString());
    claims.ns = ["*"];
    claims.access = "write";
    const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${s}`;
    assert.equal((await api("/v1/identity/revocations", { token: forged })).status, 401);
  });

  test("bad token requests name the field and mint nothing", async () => {
    const before = (await api("/v1/tokens", { token: ca.adminToken })).body.tokens.length;
    const cases: [unknown, string][] = [
      [{ namespaces: ["*"], access: "read" }, "subject"],
      [{ subject: "spiffe://strait.local/node/c1/a", namespaces: ["*"], access: "write" }, "subject"],
      [{ subject: "a", namespaces: "shop", access: "read" }, "namespaces"],
      [{ subject: "a", namespaces: [], access: "read" }, "namespaces"],
      [{ subject: "a", namespaces: ["shop", "Not_A_Namespace"], access: "read" }, "namespaces[1]"],
      [{ subject: "a", namespaces: ["shop"], access: "admin" }, "access"],
      [{ subject: "a", namespaces: ["shop"], access: "read", ttlSeconds: 1.5 }, "ttlSeconds"],
      [{ subject: "a", namespaces: ["shop"], access: "read", ttlSeconds: 10 * 365 * 86400 }, "ttlSeconds"],
    ];
    for (const [json, field] of cases) {
      const r = await api("/v1/tokens", { token: ca.adminToken, json });
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.error.field, field, JSON.stringify(r.body));
    }
    assert.equal((await api("/v1/tokens", { token: ca.adminToken })).body.tokens.length, before);
    assert.equal((await api("/v1/tokens/does-not-exist", { method: "DELETE", token: ca.adminToken })).status, 404);
  });
});
