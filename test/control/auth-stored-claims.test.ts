// Issue 6, finding 6, in real workerd: API-token checks enforce the STORED expiry,
// namespaces and access (a token whose row was narrowed or expired is held to the row,
// whatever its JWT claims say), and node JWT-SVIDs whose lifetime exceeds the configured
// JWT_SVID_TTL_SECONDS are refused.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { decodeJwt } from "jose";
import { systemClock } from "../../src/core/clock.ts";
import { importJwtSigningKey } from "../../src/identity/jwt-key.ts";
import { mintJwtSvid } from "../../src/identity/jwt-svid.ts";
import { SpiffeId } from "../../src/identity/spiffe-id.ts";
import { startControlWorker, type StartedWorker } from "../support/control-worker.ts";
import { createThrowawayCa, type ThrowawayCa } from "../support/throwaway-ca.ts";
import { controlClient } from "../support/control-client.ts";

let ca: ThrowawayCa;
let worker: StartedWorker;
const { api, attest } = controlClient<any>(() => worker, () => ca.adminToken);

const VS = "/apis/networking.istio.io/v1";
const vs = (ns: string, name: string) => `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: ${name}\n  namespace: ${ns}\nspec:\n  hosts: [${name}.example.com]\n  http:\n  - route:\n    - destination: {host: ${name}}\n`;

async function mint(json: Record<string, unknown>): Promise<{ id: string; token: string }> {
  const r = await api("/v1/tokens", { token: ca.adminToken, json });
  assert.equal(r.status, 201, r.text);
  return r.body;
}

const read = (token: string, ns: string) => api(`${VS}/namespaces/${ns}/virtualservices`, { token });
const write = (token: string, ns: string, name: string) => api("/v1/apply", { token, body: vs(ns, name), contentType: "application/yaml" });
const patch = (id: string, json: unknown) => api(`/v1/tokens/${id}`, { method: "PATCH", token: ca.adminToken, json });

before(async () => {
  ca = await createThrowawayCa();
  worker = await startControlWorker({ vars: ca.vars });
});

after(async () => {
  await worker?.dispose();
});

describe("API tokens: the stored row decides, not the token's claims", () => {
  test("a token narrowed after minting (namespaces, write -> read) is held to the narrowed row", async () => {
    const t = await mint({ subject: "deployer", namespaces: ["shop", "blog"], access: "write" });
    assert.equal((await read(t.token, "blog")).status, 200);
    assert.equal((await write(t.token, "shop", "cart")).status, 200);

    const narrowed = await patch(t.id, { namespaces: ["shop"], access: "read" });
    assert.equal(narrowed.status, 200, narrowed.text);
    assert.deepEqual([narrowed.body.namespaces, narrowed.body.access], [["shop"], "read"]);
    // The JWT still claims both namespaces and write access; the row says otherwise.
    assert.deepEqual(decodeJwt(t.token)["ns"], ["shop", "blog"]);
    assert.equal((await read(t.token, "blog")).status, 403);
    assert.equal((await read(t.token, "shop")).status, 200);
    const refused = await write(t.token, "shop", "checkout");
    assert.equal(refused.status, 403, refused.text);
    assert.match(refused.body.error.message, /read access only/);

    const audit = await api(`/v1/audit?action=token.update&target=${encodeURIComponent(`token:${t.id}`)}`, { token: ca.adminToken });
    assert.equal(audit.body.events.length, 1);
    assert.deepEqual(audit.body.events[0].detail.namespaces, ["shop"]);
  });

  test("a token whose stored expiry has passed is refused although its JWT exp has not", async () => {
    const t = await mint({ subject: "short-lived", namespaces: ["*"], access: "read" });
    assert.equal((await read(t.token, "shop")).status, 200);
    const expired = await patch(t.id, { expiresAt: new Date(Date.now() - 1000).toISOString() });
    assert.equal(expired.status, 200, expired.text);
    assert.ok((decodeJwt(t.token).exp ?? 0) * 1000 > Date.now(), "the JWT itself is still unexpired");
    const r = await read(t.token, "shop");
    assert.equal(r.status, 401, r.text);
    assert.match(r.body.error.message, /expired/);
  });

  test("a token can only be narrowed: widening is 400 naming the field, and nothing changes", async () => {
    const t = await mint({ subject: "narrow-only", namespaces: ["shop"], access: "read", ttlSeconds: 3600 });
    const cases: [unknown, string][] = [
      [{ namespaces: ["shop", "blog"] }, "namespaces[1]"],
      [{ namespaces: ["*"] }, "namespaces[0]"],
      [{ access: "write" }, "access"],
      [{ expiresAt: new Date(Date.now() + 7200_000).toISOString() }, "expiresAt"],
      [{ expiresAt: "tomorrow" }, "expiresAt"],
      [{}, "body"],
      [{ subject: "renamed" }, "subject"],
    ];
    for (const [json, field] of cases) {
      const r = await patch(t.id, json);
      assert.equal(r.status, 400, `${JSON.stringify(json)}: ${r.text}`);
      assert.equal(r.body.error.field, field, r.text);
    }
    const list = await api("/v1/tokens", { token: ca.adminToken });
    const row = list.body.tokens.find((x: { id: string }) => x.id === t.id);
    assert.deepEqual([row.namespaces, row.access], [["shop"], "read"]);
    assert.equal((await patch("no-such-token", { access: "read" })).status, 404);
    assert.equal((await api(`/v1/tokens/${t.id}`, { method: "PATCH", token: t.token, json: { access: "read" } })).status, 403);
  });
});

describe("node JWT-SVIDs: a lifetime over JWT_SVID_TTL_SECONDS is refused", () => {
  test("a JWT-SVID signed by the real key with exp - iat = 3600 s (configured 300 s) is 401; one of 300 s works", async () => {
    const node = await attest("c1", "lifetime");
    const key = await importJwtSigningKey(ca.jwtSigningKeyPem);
    const spiffeId = SpiffeId.parse(node.spiffeId);
    const long = await mintJwtSvid({ spiffeId, audience: ["strait-control"], key, clock: systemClock, ttlSeconds: 3600 });
    const r = await api("/v1/identity/revocations", { token: long.token });
    assert.equal(r.status, 401, r.text);
    assert.equal(r.body.error.field, "Authorization");
    assert.match(r.body.error.message, /exceeds the maximum of 300 s/);
    const normal = await mintJwtSvid({ spiffeId, audience: ["strait-control"], key, clock: systemClock, ttlSeconds: 300 });
    assert.equal((await api("/v1/identity/revocations", { token: normal.token })).status, 200);
    assert.equal((await api("/v1/identity/revocations", { token: node.jwt })).status, 200, "what attestation issues is within the maximum");
  });
});
