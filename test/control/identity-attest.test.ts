// Node attestation with join tokens against the control worker in real workerd:
// bundle endpoints, admin-only token minting, SVIDs verified with openssl,
// single use under concurrency, expiry, and bad input that writes nothing.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { startControlWorker, type StartedWorker } from "../support/control-worker.ts";
import { createThrowawayCa, opensslCsr, opensslText, opensslVerify, type ThrowawayCa } from "../support/throwaway-ca.ts";
import { controlClient } from "../support/control-client.ts";

const run = promisify(execFile);
let ca: ThrowawayCa;
let worker: StartedWorker;

const admin = () => ca.adminToken;
const { api, joinToken } = controlClient<any>(() => worker, admin);

async function issuedFor(spiffeId: string): Promise<unknown[]> {
  const r = await api(`/v1/identity/svids?spiffeId=${encodeURIComponent(spiffeId)}`, { token: admin() });
  assert.equal(r.status, 200);
  return r.body.svids as unknown[];
}

before(async () => {
  ca = await createThrowawayCa();
  worker = await startControlWorker({ vars: ca.vars });
});

after(async () => {
  await worker?.dispose();
});

describe("trust bundle", () => {
  test("GET /.well-known/spiffe-bundle publishes the root and intermediate as x509-svid keys and the JWT key (checklist 86-88, 92, 94)", async () => {
    const r = await api("/.well-known/spiffe-bundle");
    assert.equal(r.status, 200);
    const keys = r.body.keys as { use: string; kid?: string; x5c?: string[] }[];
    const x509Keys = keys.filter((k) => k.use === "x509-svid");
    const jwtKeys = keys.filter((k) => k.use === "jwt-svid");
    assert.equal(x509Keys.length, 2);
    assert.equal(jwtKeys.length, 1);
    assert.ok(x509Keys.every((k) => k.kid === undefined && k.x5c?.length === 1));
    assert.equal(typeof jwtKeys[0]?.kid, "string");
    assert.equal(r.body.spiffe_refresh_hint, 300);
    assert.ok(Number.isInteger(r.body.spiffe_sequence) && r.body.spiffe_sequence >= 1);
    const rootDer = Buffer.from(ca.root.certificatePem.replace(/-----[^-]+-----|\s/g, ""), "base64").toString("base64");
    assert.ok(x509Keys.some((k) => k.x5c?.[0] === rootDer), "root is in the bundle");
  });

  test("GET /v1/identity/bundle.pem returns the X.509 authorities as PEM", async () => {
    const r = await api("/v1/identity/bundle.pem");
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type") ?? "", /pem/);
    assert.equal((r.body as string).match(/-----BEGIN CERTIFICATE-----/g)?.length, 2);
    assert.ok((r.body as string).includes(ca.root.certificatePem.trim()));
  });
});

describe("join tokens are admin-only", () => {
  test("401 without a token, 401 with a wrong one, and the refusal is audited", async () => {
    const none = await api("/v1/identity/join-tokens", { json: { cluster: "c1", node: "n0" } });
    assert.equal(none.status, 401);
    assert.equal(none.body.error.code, "ERR_UNAUTHENTICATED");
    const wrong = await api("/v1/identity/join-tokens", { token: "not-the-admin-token", json: { cluster: "c1", node: "n0" } });
    assert.equal(wrong.status, 401);
    // Callers without valid credentials are counted per source, code and minute, not a row each.
    const refusals = await api("/v1/audit/refusals", { token: admin() });
    assert.equal(refusals.status, 200);
    const counted = refusals.body.refusals.filter((r: { code: string }) => r.code === "ERR_UNAUTHENTICATED");
    assert.ok(counted.reduce((n: number, r: { count: number }) => n + r.count, 0) >= 2, refusals.text);
  });

  test("201 for admin with the bound node ID; default TTL 600 s; ttlSeconds over 86400 is refused naming the field", async () => {
    const before = Date.now();
    const r = await api("/v1/identity/join-tokens", { token: admin(), json: { cluster: "c1", node: "n1" } });
    assert.equal(r.status, 201);
    assert.equal(r.body.spiffeId, `spiffe://${ca.trustDomain}/node/c1/n1`);
    const ttl = Date.parse(r.body.expiresAt) - before;
    assert.ok(ttl > 595_000 && ttl <= 602_000, `ttl ${ttl}`);
    const tooLong = await api("/v1/identity/join-tokens", { token: admin(), json: { cluster: "c1", node: "n1", ttlSeconds: 86401 } });
    assert.equal(tooLong.status, 400);
    assert.equal(tooLong.body.error.field, "ttlSeconds");
    const badNode = await api("/v1/identity/join-tokens", { token: admin(), json: { cluster: "c1", node: "a/b" } });
    assert.equal(badNode.status, 400);
    assert.equal(badNode.body.error.field, "node");
  });
});

describe("curl", () => {
  test("curl -d (form content type by default) mints a join token and attests", async () => {
    const url = (path: string) => new URL(path, worker.url).toString();
    const minted = JSON.parse(
      (await run("curl", ["-sS", "-H", `Authorization: Bearer ${ca.adminToken}`, "-d", JSON.stringify({ cluster: "c1", node: "curl" }), url("/v1/identity/join-tokens")])).stdout,
    );
    assert.equal(minted.spiffeId, `spiffe://${ca.trustDomain}/node/c1/curl`);
    const attested = JSON.parse((await run("curl", ["-sS", "-H", "Content-Type: application/json", "-d", JSON.stringify({ csr: await opensslCsr(), joinToken: minted.token }), url("/v1/identity/attest")])).stdout);
    assert.equal(attested.spiffeId, minted.spiffeId);
    const denied = await run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-d", "{}", url("/v1/identity/join-tokens")]);
    assert.equal(denied.stdout, "401");
  });
});

describe("attestation with a join token", () => {
  test("returns a node X.509-SVID that openssl verifies against root + intermediate, a JWT-SVID and the bundle (checklist 23, 52, 69)", async () => {
    const token = await joinToken("c1", "node-a");
    const csr = await opensslCsr();
    const r = await api("/v1/identity/attest", { json: { csr, joinToken: token } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const id = `spiffe://${ca.trustDomain}/node/c1/node-a`;
    assert.equal(r.body.spiffeId, id);
    const verified = await opensslVerify(ca.root.certificatePem, ca.intermediate.certificatePem, r.body.x509Svid.certificatePem);
    assert.match(verified, /OK$/);
    const text = await opensslText(r.body.x509Svid.certificatePem);
    assert.ok(text.includes(`URI:${id}`));
    assert.ok(r.body.x509Svid.chainPem.startsWith(r.body.x509Svid.certificatePem));
    assert.deepEqual(r.body.jwtSvid.audience, ["strait-control"]);
    const jwtTtl = Date.parse(r.body.jwtSvid.expiresAt) - Date.now();
    assert.ok(jwtTtl > 280_000 && jwtTtl <= 301_000, `jwt ttl ${jwtTtl}`);
    assert.ok(Array.isArray(r.body.bundle.keys));
    assert.ok((r.body.bundlePem as string).includes(ca.root.certificatePem.trim()));
    // Recorded: the node, the issued SVID, an audit event.
    const nodes = await api("/v1/identity/nodes", { token: admin() });
    assert.ok(nodes.body.nodes.some((n: { spiffeId: string; currentSerial: string }) => n.spiffeId === id && n.currentSerial === r.body.x509Svid.serial));
    const issued = (await issuedFor(id)) as { serial: string; caGeneration: number }[];
    assert.deepEqual(issued.map((s) => s.serial), [r.body.x509Svid.serial]);
    const audit = await api(`/v1/audit?action=identity.attest&target=${encodeURIComponent(id)}`, { token: admin() });
    assert.equal(audit.body.events.length, 1);
    assert.equal(audit.body.events[0].outcome, "success");
    // The JWT-SVID is a node credential: it reads revocations, but is not admin (403).
    const asNode = await api("/v1/identity/revocations", { token: r.body.jwtSvid.token });
    assert.equal(asNode.status, 200);
    const adminRoute = await api("/v1/identity/join-tokens", { token: r.body.jwtSvid.token, json: { cluster: "c1", node: "x" } });
    assert.equal(adminRoute.status, 403);
  });

  test("a CSR asking for the node ID itself is accepted; the identity always comes from the token (checklist 35)", async () => {
    const token = await joinToken("c1", "node-b");
    const csr = await opensslCsr({ uris: [`spiffe://${ca.trustDomain}/node/c1/node-b`] });
    const r = await api("/v1/identity/attest", { json: { csr, joinToken: token } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.spiffeId, `spiffe://${ca.trustDomain}/node/c1/node-b`);
  });

  for (const n of [2, 10]) {
    test(`${n} concurrent attestations with one token: exactly one 200, the rest 401 with SPIRE's message`, async () => {
      const token = await joinToken("c1", `race-${n}`);
      const csrs = await Promise.all(Array.from({ length: n }, () => opensslCsr()));
      const results = await Promise.all(csrs.map((csr) => api("/v1/identity/attest", { json: { csr, joinToken: token } })));
      const statuses = results.map((r) => r.status).sort();
      assert.deepEqual(statuses, [200, ...Array<number>(n - 1).fill(401)]);
      for (const r of results.filter((x) => x.status === 401)) assert.equal(r.body.error.message, "joinToken: join token does not exist or has already been used");
      assert.equal((await issuedFor(`spiffe://${ca.trustDomain}/node/c1/race-${n}`)).length, 1);
    });
  }

  test("replaying a used token gives the same 401 as an unknown token", async () => {
    const token = await joinToken("c1", "replay");
    assert.equal((await api("/v1/identity/attest", { json: { csr: await opensslCsr(), joinToken: token } })).status, 200);
    const replay = await api("/v1/identity/attest", { json: { csr: await opensslCsr(), joinToken: token } });
    const unknown = await api("/v1/identity/attest", { json: { csr: await opensslCsr(), joinToken: "bm90LWEtcmVhbC10b2tlbg" } });
    assert.equal(replay.status, 401);
    assert.equal(unknown.status, 401);
    assert.deepEqual(replay.body, unknown.body);
    assert.equal(replay.body.error.message, "joinToken: join token does not exist or has already been used");
  });

  test("an expired token is refused with \"join token expired\" and consumed", async () => {
    const token = await joinToken("c1", "late", 1);
    await new Promise((r) => setTimeout(r, 1500));
    const first = await api("/v1/identity/attest", { json: { csr: await opensslCsr(), joinToken: token } });
    assert.equal(first.status, 401);
    assert.equal(first.body.error.message, "joinToken: join token expired");
    assert.equal(first.body.error.field, "joinToken");
    const second = await api("/v1/identity/attest", { json: { csr: await opensslCsr(), joinToken: token } });
    assert.equal(second.body.error.message, "joinToken: join token does not exist or has already been used");
    assert.equal((await issuedFor(`spiffe://${ca.trustDomain}/node/c1/late`)).length, 0);
  });
});

describe("bad attestation input is a 4xx naming the field and writes nothing", () => {
  const node = "careful";
  const id = () => `spiffe://${ca.trustDomain}/node/c1/${node}`;
  let token: string;

  before(async () => {
    token = await joinToken("c1", node);
  });

  const cases: { name: string; status: number; field: string; request: () => Promise<Parameters<typeof api>[1]> }[] = [
    { name: "malformed PEM", status: 400, field: "csr", request: async () => ({ json: { csr: "-----BEGIN CERTIFICATE REQUEST-----\n!!!\n-----END CERTIFICATE REQUEST-----\n", joinToken: token } }) },
    { name: "not PEM at all", status: 400, field: "csr", request: async () => ({ json: { csr: "hello", joinToken: token } }) },
    { name: "a CSR with two URI SANs (checklist 23)", status: 400, field: "csr", request: async () => ({ json: { csr: await opensslCsr({ uris: [id(), `spiffe://${ca.trustDomain}/node/c1/other`] }), joinToken: token } }) },
    { name: "a CSR whose URI SAN disagrees with the identity (checklist 35)", status: 400, field: "csr", request: async () => ({ json: { csr: await opensslCsr({ uris: [`spiffe://${ca.trustDomain}/ns/prod/sa/admin`] }), joinToken: token } }) },
    { name: "missing csr", status: 400, field: "csr", request: async () => ({ json: { joinToken: token } }) },
    { name: "csr of the wrong type", status: 400, field: "csr", request: async () => ({ json: { csr: 42, joinToken: token } }) },
    { name: "joinToken of the wrong type", status: 400, field: "joinToken", request: async () => ({ json: { csr: await opensslCsr(), joinToken: ["x"] } }) },
    { name: "neither joinToken nor k8s", status: 400, field: "joinToken", request: async () => ({ json: { csr: await opensslCsr() } }) },
    { name: "a JSON array body", status: 400, field: "body", request: async () => ({ json: [token] }) },
    { name: "non-JSON", status: 400, field: "body", request: async () => ({ body: "csr=1&joinToken=2", contentType: "application/json" }) },
    { name: "a non-JSON content type", status: 415, field: "body", request: async () => ({ body: "csr: x", contentType: "application/yaml" }) },
    { name: "a body over 64 KiB", status: 413, field: "body", request: async () => ({ json: { csr: "A".repeat(70_000), joinToken: token } }) },
  ];

  for (const c of cases) {
    test(c.name, async () => {
      const r = await api("/v1/identity/attest", await c.request());
      assert.equal(r.status, c.status, JSON.stringify(r.body));
      assert.equal(r.body.error.field, c.field);
      assert.ok((r.body.error.message as string).startsWith(`${c.field}:`), r.body.error.message);
    });
  }

  test("a streamed (chunked, no Content-Length) body over 64 KiB is 413", async () => {
    const chunk = new TextEncoder().encode(`{"csr": "${"A".repeat(16_000)}`);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 6) return controller.close();
        sent++;
        controller.enqueue(chunk);
      },
    });
    const res = await worker.fetch("/v1/identity/attest", { method: "POST", headers: { "content-type": "application/json" }, body: stream, duplex: "half" } as RequestInit);
    assert.equal(res.status, 413);
    const body = (await res.json()) as { error: { field: string } };
    assert.equal(body.error.field, "body");
  });

  test("afterwards nothing was issued and the token still works", async () => {
    assert.equal((await issuedFor(id())).length, 0);
    const r = await api("/v1/identity/attest", { json: { csr: await opensslCsr(), joinToken: token } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal((await issuedFor(id())).length, 1);
  });
});
