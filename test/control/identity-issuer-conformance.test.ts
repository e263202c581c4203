// Issuer guarantees that only show end to end, in the control worker in real workerd:
// X.509-SVID lifetime (default 1 h, configurable, at most 24 h, never past the CA's
// notAfter; checklist 32), extra JWT claims never authorise (checklist 85), and
// secrets are never stored or logged in D1 (join tokens hashed; keys sealed).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { SignJWT } from "jose";
import { x509 } from "../../src/identity/x509.ts";
import { importJwtSigningKey } from "../../src/identity/jwt-key.ts";
import { projectRoot, startControlWorker, type StartedWorker } from "../support/control-worker.ts";
import { createThrowawayCa, opensslCsr, opensslText, opensslVerify, type ThrowawayCa } from "../support/throwaway-ca.ts";
import { callApi, type ApiResponse } from "../support/control-client.ts";

const run = promisify(execFile);

interface Attested {
  status: number;
  body: any;
  joinToken: string;
}

function post(worker: StartedWorker, path: string, json: unknown, token?: string): Promise<ApiResponse<any>> {
  return callApi<any>(worker, path, { json, ...(token === undefined ? {} : { token }) });
}

async function attest(worker: StartedWorker, ca: ThrowawayCa, node: string): Promise<Attested> {
  const t = await post(worker, "/v1/identity/join-tokens", { cluster: "c1", node }, ca.adminToken);
  assert.equal(t.status, 201, t.text);
  const r = await post(worker, "/v1/identity/attest", { csr: await opensslCsr(), joinToken: t.body.token });
  return { status: r.status, body: r.body, joinToken: t.body.token };
}

/** Seconds between notBefore and notAfter of a PEM certificate. */
function lifetimeSeconds(pem: string): { lifetime: number; notBefore: Date; notAfter: Date } {
  const cert = new x509.X509Certificate(pem);
  return { lifetime: (cert.notAfter.getTime() - cert.notBefore.getTime()) / 1000, notBefore: cert.notBefore, notAfter: cert.notAfter };
}

/** Rows of a query against a worker's local D1, read with the real wrangler CLI. */
async function rowsOf(worker: StartedWorker, sql: string): Promise<Record<string, unknown>[]> {
  const { stdout } = await run(
    process.execPath,
    [join(projectRoot, "node_modules/wrangler/bin/wrangler.js"), "d1", "execute", "DB", "--local", "--env", "control", "--persist-to", worker.persistDir, "--json", "--command", sql],
    { cwd: projectRoot, env: { ...process.env, CI: "true" }, maxBuffer: 64 * 1024 * 1024 },
  );
  const parsed = JSON.parse(stdout) as { results: Record<string, unknown>[] }[];
  return parsed[0]?.results ?? [];
}

let shortCa: ThrowawayCa;
let ca: ThrowawayCa;
let shortCaWorker: StartedWorker;
let defaultWorker: StartedWorker;
let twoHourWorker: StartedWorker;
let overLimitWorker: StartedWorker;
let otherCa: ThrowawayCa;
let otherDomainWorker: StartedWorker;

before(async () => {
  [shortCa, ca, otherCa] = await Promise.all([createThrowawayCa(), createThrowawayCa(), createThrowawayCa({ trustDomain: "example.org" })]);
  // An intermediate that expires in 20 minutes: a 1 h SVID must be clamped to it.
  const shortIntermediate = await shortCa.newIntermediate(1200);
  shortCa.intermediate = shortIntermediate;
  const shortVars = { ...shortCa.vars, CA_INTERMEDIATE_CERT: shortIntermediate.certificatePem, CA_INTERMEDIATE_KEY: shortIntermediate.privateKeyPem };
  [shortCaWorker, defaultWorker, twoHourWorker, overLimitWorker, otherDomainWorker] = await Promise.all([
    startControlWorker({ vars: shortVars }),
    startControlWorker({ vars: ca.vars }),
    startControlWorker({ vars: { ...ca.vars, X509_SVID_TTL_SECONDS: "7200" } }),
    startControlWorker({ vars: { ...ca.vars, X509_SVID_TTL_SECONDS: "86401" } }),
    startControlWorker({ vars: otherCa.vars }),
  ]);
});

after(async () => {
  await Promise.all([shortCaWorker, defaultWorker, twoHourWorker, overLimitWorker, otherDomainWorker].map((w) => w?.dispose()));
});

describe("a configured trust domain (TRUST_DOMAIN=example.org)", () => {
  test("node IDs, SVIDs, JWT-SVIDs and the bundle use it; identities of strait.local are refused naming the field", async () => {
    const r = await attest(otherDomainWorker, otherCa, "n1");
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.spiffeId, "spiffe://example.org/node/c1/n1");
    assert.match(await opensslText(r.body.x509Svid.certificatePem), /URI:spiffe:\/\/example\.org\/node\/c1\/n1/);
    assert.match(await opensslVerify(otherCa.root.certificatePem, otherCa.intermediate.certificatePem, r.body.x509Svid.certificatePem), /OK$/);
    const jwtSub = JSON.parse(Buffer.from((r.body.jwtSvid.token as string).split(".")[1] as string, "base64url").toString()) as { sub: string };
    assert.equal(jwtSub.sub, "spiffe://example.org/node/c1/n1");
    const foreign = await post(otherDomainWorker, "/v1/identity/registrations", { spiffeId: "spiffe://strait.local/ns/a/sa/b", node: r.body.spiffeId }, otherCa.adminToken);
    assert.equal(foreign.status, 400, foreign.text);
    assert.equal(foreign.body.error.field, "spiffeId");
    assert.match(foreign.body.error.message, /not in trust domain example\.org/);
    const ok = await post(otherDomainWorker, "/v1/identity/registrations", { spiffeId: "spiffe://example.org/ns/a/sa/b", node: r.body.spiffeId }, otherCa.adminToken);
    assert.equal(ok.status, 201, ok.text);
  });
});

describe("X.509-SVID lifetime", () => {
  test("default 1 h, notBefore backdated 30 s; the JWT-SVID's exp is at most 1 h (default 5 min)", async () => {
    const before = Date.now();
    const r = await attest(defaultWorker, ca, "n-default");
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const { lifetime, notBefore, notAfter } = lifetimeSeconds(r.body.x509Svid.certificatePem);
    assert.equal(lifetime, 3600 + 30);
    assert.ok(notBefore.getTime() >= before - 31_000 && notBefore.getTime() <= Date.now() - 29_000, `notBefore ${notBefore.toISOString()} is backdated 30 s`);
    assert.equal(r.body.x509Svid.notAfter, notAfter.toISOString());
    const jwtExp = Date.parse(r.body.jwtSvid.expiresAt);
    assert.ok(jwtExp - before <= 3600_000 && jwtExp - before > 290_000, `jwt exp in ${jwtExp - before} ms`);
  });

  test("X509_SVID_TTL_SECONDS configures it (7200 s)", async () => {
    const r = await attest(twoHourWorker, ca, "n-2h");
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(lifetimeSeconds(r.body.x509Svid.certificatePem).lifetime, 7200 + 30);
  });

  test("more than 24 h is an operator error: 503 naming the setting, no SVID, and the token is not spent", async () => {
    const t = await post(overLimitWorker, "/v1/identity/join-tokens", { cluster: "c1", node: "n-long" }, ca.adminToken);
    const r = await post(overLimitWorker, "/v1/identity/attest", { csr: await opensslCsr(), joinToken: t.body.token });
    assert.equal(r.status, 503, r.text);
    assert.equal(r.body.error.field, "X509_SVID_TTL_SECONDS");
    assert.match(r.body.error.message, /1 to 86400/);
    const svids = await overLimitWorker.fetch("/v1/identity/svids", { headers: { authorization: `Bearer ${ca.adminToken}` } });
    assert.deepEqual(((await svids.json()) as { svids: unknown[] }).svids, []);
    const [row] = await rowsOf(overLimitWorker, `SELECT used_at FROM join_tokens WHERE token_hash = '${createHash("sha256").update(t.body.token as string).digest("hex")}'`);
    assert.equal(row?.used_at, null);
  });

  test("checklist 32: notAfter is clamped to the intermediate's notAfter, and openssl still verifies the chain", async () => {
    const r = await attest(shortCaWorker, shortCa, "n-short");
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const caNotAfter = new x509.X509Certificate(shortCa.intermediate.certificatePem).notAfter;
    const { notAfter } = lifetimeSeconds(r.body.x509Svid.certificatePem);
    assert.equal(notAfter.getTime(), caNotAfter.getTime());
    assert.match(await opensslVerify(shortCa.root.certificatePem, shortCa.intermediate.certificatePem, r.body.x509Svid.certificatePem), /OK$/);
    assert.match(await opensslText(r.body.x509Svid.certificatePem), new RegExp(`Not After : ${caNotAfter.toUTCString().slice(8, 11)}`));
  });
});

describe("CSR key policy in workerd: P-256 and RSA >= 2048 accepted, anything else refused", () => {
  test("RSA 2048 and 3072 CSRs attest and get workload SVIDs; the leaf adds keyEncipherment (checklist 29) and openssl verifies it", async () => {
    for (const key of ["rsa2048", "rsa3072"] as const) {
      const t = await post(defaultWorker, "/v1/identity/join-tokens", { cluster: "c1", node: `n-${key}` }, ca.adminToken);
      const r = await post(defaultWorker, "/v1/identity/attest", { csr: await opensslCsr({ key }), joinToken: t.body.token });
      assert.equal(r.status, 200, r.text);
      assert.match(await opensslVerify(ca.root.certificatePem, ca.intermediate.certificatePem, r.body.x509Svid.certificatePem), /OK$/);
      const text = await opensslText(r.body.x509Svid.certificatePem);
      assert.match(text, new RegExp(`Public-Key: \\(${key.slice(3)} bit\\)`));
      assert.match(text, /Digital Signature, Key Encipherment/);
    }
  });

  test("P-384, secp256k1, Ed25519 and RSA 1024 are 400 ERR_KEY_UNSUPPORTED naming csr and the key, and the token is not spent", async () => {
    const t = await post(defaultWorker, "/v1/identity/join-tokens", { cluster: "c1", node: "n-keys" }, ca.adminToken);
    const expected = { p384: /ECDSA P-384/, secp256k1: /ECDSA K-256/, ed25519: /Ed25519/, rsa1024: /RSA 1024/ } as const;
    for (const [key, message] of Object.entries(expected) as [keyof typeof expected, RegExp][]) {
      const r = await post(defaultWorker, "/v1/identity/attest", { csr: await opensslCsr({ key }), joinToken: t.body.token });
      assert.equal(r.status, 400, `${key}: ${r.text}`);
      assert.equal(r.body.error.code, "ERR_KEY_UNSUPPORTED", key);
      assert.equal(r.body.error.field, "csr", key);
      assert.match(r.body.error.message, /^csr: /);
      assert.match(r.body.error.message, message, key);
    }
    const ok = await post(defaultWorker, "/v1/identity/attest", { csr: await opensslCsr(), joinToken: t.body.token });
    assert.equal(ok.status, 200, ok.text);
  });
});

describe("checklist 85: claims beyond sub and aud never authorise", () => {
  test("a node JWT-SVID carrying admin- and API-token-looking claims is still only a node", async () => {
    const r = await attest(defaultWorker, ca, "n-claims");
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const key = await importJwtSigningKey(ca.jwtSigningKeyPem);
    const iat = Math.floor(Date.now() / 1000);
    const loaded = await new SignJWT({ admin: true, access: "write", ns: ["*"], jti: "x", groups: ["system:masters"] })
      .setProtectedHeader({ alg: "ES256", kid: key.kid, typ: "JWT" })
      .setSubject(r.body.spiffeId)
      .setAudience("strait-control")
      .setIssuedAt(iat)
      .setExpirationTime(iat + 300)
      .sign(key.privateKey);
    const asNode = await defaultWorker.fetch("/v1/identity/revocations", { headers: { authorization: `Bearer ${loaded}` } });
    assert.equal(asNode.status, 200, "the token is a valid node credential");
    for (const [method, path, json] of [
      ["GET", "/v1/identity/nodes", undefined],
      ["POST", "/v1/tokens", { subject: "x", namespaces: ["*"], access: "write" }],
      ["POST", "/v1/identity/join-tokens", { cluster: "c1", node: "evil" }],
    ] as const) {
      const res = await defaultWorker.fetch(path, { method, headers: { authorization: `Bearer ${loaded}`, "content-type": "application/json" }, body: json === undefined ? undefined : JSON.stringify(json) });
      assert.equal(res.status, 403, `${method} ${path}`);
    }
  });
});

describe("concurrent admin writes", () => {
  test("revoking one node from 6 requests at once: exactly one 201, the rest 409 naming spiffeId, one audit event", async () => {
    const spiffeId = `spiffe://${ca.trustDomain}/node/c1/n-race`;
    const results = await Promise.all(Array.from({ length: 6 }, () => post(defaultWorker, "/v1/identity/revocations", { spiffeId, reason: "race" }, ca.adminToken)));
    assert.deepEqual(results.map((r) => r.status).sort(), [201, 409, 409, 409, 409, 409], results.map((r) => r.text).join("\n"));
    for (const r of results.filter((x) => x.status === 409)) assert.equal(r.body.error.field, "spiffeId");
    const audit = await defaultWorker.fetch(`/v1/audit?action=identity.revoke&target=${encodeURIComponent(spiffeId)}`, { headers: { authorization: `Bearer ${ca.adminToken}` } });
    assert.equal(((await audit.json()) as { events: unknown[] }).events.length, 1);
  });
});

describe("secrets at rest", () => {
  const table = (sql: string) => rowsOf(defaultWorker, sql);

  test("join tokens are stored as SHA-256 hashes; no token, key, KEK or admin token is anywhere in D1", async () => {
    const r = await attest(defaultWorker, ca, "n-secrets");
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const apiToken = await post(defaultWorker, "/v1/tokens", { subject: "ci", namespaces: ["*"], access: "read" }, ca.adminToken);
    assert.equal(apiToken.status, 201, apiToken.text);
    const unusedToken = (await post(defaultWorker, "/v1/identity/join-tokens", { cluster: "c1", node: "n-unused" }, ca.adminToken)).body.token as string;

    const joinRows = await table("SELECT * FROM join_tokens");
    const hashes = joinRows.map((row) => row.token_hash);
    for (const token of [r.joinToken, unusedToken]) {
      assert.ok(hashes.includes(createHash("sha256").update(token).digest("hex")), "the token's hash is stored");
    }

    const pemBody = (pem: string) => pem.replace(/-----[A-Z ]+-----/g, "").replace(/\s+/g, "");
    const secrets: Record<string, string> = {
      "a join token": r.joinToken,
      "an unused join token": unusedToken,
      "the admin token": ca.adminToken,
      "CA_KEK": ca.vars.CA_KEK as string,
      "the intermediate key": pemBody(ca.intermediate.privateKeyPem).slice(0, 60),
      "the JWT signing key": pemBody(ca.jwtSigningKeyPem).slice(0, 60),
      "an API token": apiToken.body.token,
      "an API token signature": (apiToken.body.token as string).split(".")[2] as string,
      "a node JWT-SVID signature": (r.body.jwtSvid.token as string).split(".")[2] as string,
    };
    const tables = (await table("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'")).map((t) => t.name as string);
    for (const expected of ["join_tokens", "ca_generations", "audit_events", "api_tokens", "issued_svids", "attested_nodes"]) assert.ok(tables.includes(expected), expected);
    for (const name of tables) {
      const dump = JSON.stringify(await table(`SELECT * FROM "${name}"`));
      for (const [what, secret] of Object.entries(secrets)) assert.ok(!dump.includes(secret), `${what} is stored in ${name}`);
      assert.ok(!dump.includes("PRIVATE KEY"), `a private key PEM is stored in ${name}`);
    }
    const [generation] = await table("SELECT encrypted_key, encrypted_jwt_key FROM ca_generations WHERE id = 1");
    assert.match(String(generation?.encrypted_key), /^v1\./, "the CA key is sealed with CA_KEK");
    assert.match(String(generation?.encrypted_jwt_key), /^v1\./, "the JWT key is sealed with CA_KEK");
  });
});
