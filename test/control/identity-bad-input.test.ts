// Client mistakes against every identity route of the control worker (real workerd):
// malformed bodies, wrong types per field, unknown fields, wrong content types, garbage
// credentials. Every answer must be a 4xx `{"error":{code,message}}` naming the field,
// never a 5xx, never an echo of a credential, and nothing may be written.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { base64url } from "jose";
import { ManualClock } from "../../src/core/clock.ts";
import { generateJwtSigningKeyPem, importJwtSigningKey } from "../../src/identity/jwt-key.ts";
import { mintJwtSvid } from "../../src/identity/jwt-svid.ts";
import { SpiffeId } from "../../src/identity/spiffe-id.ts";
import { startControlWorker, type StartedWorker } from "../support/control-worker.ts";
import { createThrowawayCa, opensslCsr, type ThrowawayCa } from "../support/throwaway-ca.ts";

let ca: ThrowawayCa;
let worker: StartedWorker;
let csr: string;
let joinToken: string;
let nodeJwt: string;
let nodeSpiffeId: string;
let nodeCertificatePem: string;
let staged: { certificatePem: string; privateKeyPem: string };

interface Sent {
  method?: string;
  authorization?: string;
  contentType?: string;
  body?: string | Uint8Array<ArrayBuffer>;
}

interface Answer {
  status: number;
  text: string;
  json: { error?: { code?: unknown; message?: unknown; field?: unknown } } | undefined;
  headers: Headers;
}

async function send(path: string, o: Sent = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (o.authorization !== undefined) headers.authorization = o.authorization;
  if (o.contentType !== undefined) headers["content-type"] = o.contentType;
  const res = await worker.fetch(path, { method: o.method ?? (o.body === undefined ? "GET" : "POST"), headers, body: o.body });
  const text = await res.text();
  let json: Answer["json"];
  try {
    json = JSON.parse(text) as Answer["json"];
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json, headers: res.headers };
}

/** The common contract: a 4xx with `{"error":{code,message}}`; when `field` is given, the error names it. */
function assertClientError(r: Answer, where: string, o: { field?: string; status?: number } = {}): void {
  assert.ok(r.status >= 400 && r.status < 500, `${where}: expected 4xx, got ${r.status} ${r.text.slice(0, 300)}`);
  if (o.status !== undefined) assert.equal(r.status, o.status, `${where}: ${r.text.slice(0, 300)}`);
  const err = r.json?.error;
  assert.ok(err !== undefined, `${where}: body is not {"error":...}: ${r.text.slice(0, 300)}`);
  assert.equal(typeof err.code, "string", `${where}: error.code`);
  assert.match(err.code as string, /^ERR_[A-Z_]+$/, where);
  assert.equal(typeof err.message, "string", `${where}: error.message`);
  if (o.field !== undefined) {
    assert.equal(typeof err.field, "string", `${where}: error.field missing: ${r.text.slice(0, 300)}`);
    const field = err.field as string;
    assert.ok(field === o.field || field.startsWith(`${o.field}.`) || field.startsWith(`${o.field}[`), `${where}: field ${field}, expected ${o.field}`);
    assert.ok((err.message as string).includes(field), `${where}: message does not name ${field}: ${err.message as string}`);
  }
}

const admin = () => `Bearer ${ca.adminToken}`;
const node = () => `Bearer ${nodeJwt}`;
const td = () => ca.trustDomain;
const web = () => `spiffe://${td()}/ns/shop/sa/web`;

type FieldKind = "string" | "integer" | "boolean" | "stringArray" | "object" | "objectArray";

interface JsonRoute {
  path: string;
  auth: () => string | undefined;
  /** A body that would succeed; it is only ever sent with one field broken. */
  valid: () => Record<string, unknown>;
  /** Top-level and nested fields (path segments), each with extra values that are wrong for it. */
  fields: { path: (string | number)[]; kind: FieldKind; alsoBad?: unknown[]; missingField?: string; optional?: boolean }[];
}

const jsonRoutes: JsonRoute[] = [
  {
    path: "/v1/identity/attest",
    auth: () => undefined,
    valid: () => ({ csr, joinToken }),
    fields: [
      { path: ["csr"], kind: "string", alsoBad: ["-----BEGIN CERTIFICATE REQUEST-----\n!!\n-----END CERTIFICATE REQUEST-----\n", "not pem"] },
      { path: ["joinToken"], kind: "string", alsoBad: ["no-such-token"] },
    ],
  },
  {
    path: "/v1/identity/attest",
    auth: () => undefined,
    valid: () => ({ csr, k8s: { cluster: "prod", token: "x.y.z" } }),
    fields: [
      // Without k8s the body has neither credential, which is reported on joinToken.
      { path: ["k8s"], kind: "object", missingField: "joinToken" },
      { path: ["k8s", "cluster"], kind: "string", alsoBad: ["unknown-cluster"] },
      { path: ["k8s", "token"], kind: "string", alsoBad: ["x.y.z", "garbage"] },
    ],
  },
  {
    path: "/v1/identity/renew",
    auth: node,
    valid: () => ({ csr, nonce: "A".repeat(43), certificate: nodeCertificatePem, signature: "A".repeat(86) }),
    fields: [
      { path: ["csr"], kind: "string", alsoBad: ["not pem"] },
      { path: ["nonce"], kind: "string", alsoBad: ["short", "A".repeat(500)] },
      { path: ["certificate"], kind: "string", alsoBad: ["not pem", "-----BEGIN CERTIFICATE-----\n!!\n-----END CERTIFICATE-----\n"] },
      { path: ["signature"], kind: "string", alsoBad: ["!!", "A".repeat(10)] },
    ],
  },
  {
    path: "/v1/identity/svids",
    auth: node,
    valid: () => ({ requests: [{ spiffeId: web(), csr }] }),
    fields: [
      { path: ["requests"], kind: "objectArray" },
      { path: ["requests", 0, "spiffeId"], kind: "string", alsoBad: ["spiffe://other.example/ns/a/sa/b", `spiffe://${"strait.local"}`, "http://x/y", "spiffe://strait.local/ns/a//b"] },
      { path: ["requests", 0, "csr"], kind: "string", alsoBad: ["not pem"] },
    ],
  },
  {
    path: "/v1/identity/join-tokens",
    auth: admin,
    valid: () => ({ cluster: "c9", node: "n9", ttlSeconds: 600 }),
    fields: [
      { path: ["cluster"], kind: "string", alsoBad: ["a/b", "..", "ü", "a b"] },
      { path: ["node"], kind: "string", alsoBad: ["a/b", ".", "x".repeat(300)] },
      { path: ["ttlSeconds"], kind: "integer", optional: true },
    ],
  },
  {
    path: "/v1/identity/registrations",
    auth: admin,
    valid: () => ({ spiffeId: `spiffe://${td()}/ns/shop/sa/other`, node: nodeSpiffeId }),
    fields: [
      { path: ["spiffeId"], kind: "string", alsoBad: ["spiffe://other.example/ns/a/sa/b", `spiffe://${"strait.local"}`, `spiffe://strait.local/node/c1/n1`, "spiffe://Strait.local/x"] },
      { path: ["node"], kind: "string", alsoBad: [`spiffe://strait.local/ns/a/sa/b`, "spiffe://other.example/node/c/n", "node-1"] },
    ],
  },
  {
    path: "/v1/identity/revocations",
    auth: admin,
    valid: () => ({ spiffeId: `spiffe://${td()}/node/c1/never`, reason: "test" }),
    fields: [
      { path: ["spiffeId"], kind: "string", alsoBad: [`spiffe://strait.local/ns/a/sa/b`, "spiffe://other.example/node/c/n", "spiffe://strait.local/node/c1/n1/"] },
      { path: ["reason"], kind: "string" },
    ],
  },
  {
    path: "/v1/identity/ca/stage",
    auth: admin,
    valid: () => ({ ...staged }),
    fields: [
      { path: ["certificatePem"], kind: "string", alsoBad: ["not pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"] },
      { path: ["privateKeyPem"], kind: "string", alsoBad: ["not pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"] },
    ],
  },
  {
    path: "/v1/identity/ca/activate",
    auth: admin,
    valid: () => ({ generation: 1 }),
    fields: [
      { path: ["generation"], kind: "integer", alsoBad: [987654] },
      { path: ["force"], kind: "boolean", optional: true },
    ],
  },
  {
    path: "/v1/tokens",
    auth: admin,
    valid: () => ({ subject: "ci", namespaces: ["shop"], access: "read", ttlSeconds: 3600 }),
    fields: [
      { path: ["subject"], kind: "string" },
      { path: ["namespaces"], kind: "stringArray", alsoBad: [["Shop"], ["a/b"], Array.from({ length: 65 }, () => "a")] },
      { path: ["access"], kind: "string", alsoBad: ["admin", "READ"] },
      { path: ["ttlSeconds"], kind: "integer", alsoBad: [59], optional: true },
    ],
  },
];

const HUGE = "x".repeat(20_000);
const WRONG: Record<FieldKind, unknown[]> = {
  string: [null, 42, 1.5, true, [], ["x"], {}, "", "   ", HUGE],
  integer: [null, "600", "", 1.5, true, [], {}, 0, -1, 1e15, HUGE],
  stringArray: [null, "shop", 42, {}, [], [42], [null], [""], HUGE],
  boolean: [null, "true", "", 1, 0, [], {}],
  object: [null, "x", 42, true, [], {}],
  objectArray: [null, "x", 42, {}, [], [null], ["x"], [42], [[]], [{}], Array.from({ length: 33 }, () => ({}))],
};

function withField(base: Record<string, unknown>, path: (string | number)[], value: unknown): Record<string, unknown> {
  const copy = structuredClone(base);
  let at: Record<string | number, unknown> = copy;
  for (const key of path.slice(0, -1)) at = at[key] as Record<string | number, unknown>;
  at[path[path.length - 1] as string | number] = value;
  return copy;
}

/** `requests.0.csr` -> `requests[0].csr`, as the API names fields. */
function fieldName(path: (string | number)[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}

/** Everything the identity routes can write, as counts; compared before and after the matrix. */
async function writtenState(): Promise<Record<string, number>> {
  const get = async (path: string, key: string) => {
    const r = await send(path, { authorization: admin() });
    assert.equal(r.status, 200, `${path}: ${r.text.slice(0, 200)}`);
    return ((r.json as Record<string, unknown>)[key] as unknown[]).length;
  };
  return {
    successfulAuditEvents: await get("/v1/audit?outcome=success&limit=1000", "events"),
    svids: await get("/v1/identity/svids", "svids"),
    nodes: await get("/v1/identity/nodes", "nodes"),
    registrations: await get("/v1/identity/registrations", "registrations"),
    revocations: await get("/v1/identity/revocations", "revocations"),
    tokens: await get("/v1/tokens", "tokens"),
    caGenerations: await get("/v1/identity/ca", "generations"),
  };
}

let stateBefore: Record<string, number>;

before(async () => {
  ca = await createThrowawayCa();
  worker = await startControlWorker({ vars: { ...ca.vars, K8S_CLUSTERS: JSON.stringify({ prod: { issuer: "https://k8s.example", audience: "strait", jwks: { keys: [] }, allowedServiceAccounts: ["strait-system:strait-node-proxy"] } }) } });
  csr = await opensslCsr();
  const first = await send("/v1/identity/join-tokens", { authorization: admin(), contentType: "application/json", body: JSON.stringify({ cluster: "c1", node: "n1" }) });
  assert.equal(first.status, 201, first.text);
  const attested = await send("/v1/identity/attest", { contentType: "application/json", body: JSON.stringify({ csr, joinToken: (first.json as { token: string }).token }) });
  assert.equal(attested.status, 200, attested.text);
  ({ spiffeId: nodeSpiffeId } = attested.json as unknown as { spiffeId: string });
  nodeJwt = (attested.json as unknown as { jwtSvid: { token: string } }).jwtSvid.token;
  nodeCertificatePem = (attested.json as unknown as { x509Svid: { certificatePem: string } }).x509Svid.certificatePem;
  const reg = await send("/v1/identity/registrations", { authorization: admin(), contentType: "application/json", body: JSON.stringify({ spiffeId: web(), node: nodeSpiffeId }) });
  assert.equal(reg.status, 201, reg.text);
  // Kept unused until the end: the matrix must not consume it.
  const second = await send("/v1/identity/join-tokens", { authorization: admin(), contentType: "application/json", body: JSON.stringify({ cluster: "c1", node: "n2" }) });
  joinToken = (second.json as { token: string }).token;
  staged = await ca.newIntermediate();
  stateBefore = await writtenState();
});

after(async () => {
  await worker?.dispose();
});

const uniqueRoutes = () => [...new Map(jsonRoutes.map((r) => [r.path, r])).values()];

describe("malformed bodies on every identity POST route: 4xx naming body, never 5xx", () => {
  const deepArray = "[".repeat(20_000) + "]".repeat(20_000);
  const deepObject = '{"a":'.repeat(5_000) + "1" + "}".repeat(5_000);
  const invalidUtf8 = new Uint8Array([0x7b, 0x22, 0x63, 0x73, 0x72, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d]);
  const bodies: { name: string; body?: string | Uint8Array<ArrayBuffer>; contentType?: string; status: number; field: string }[] = [
    { name: "no body", status: 400, field: "body" },
    { name: "empty body", body: "", contentType: "application/json", status: 400, field: "body" },
    { name: "whitespace", body: " \n\t ", contentType: "application/json", status: 400, field: "body" },
    { name: "null", body: "null", contentType: "application/json", status: 400, field: "body" },
    { name: "[]", body: "[]", contentType: "application/json", status: 400, field: "body" },
    { name: '"str"', body: '"str"', contentType: "application/json", status: 400, field: "body" },
    { name: "a number", body: "42", contentType: "application/json", status: 400, field: "body" },
    { name: "a huge number", body: "1e999", contentType: "application/json", status: 400, field: "body" },
    { name: "true", body: "true", contentType: "application/json", status: 400, field: "body" },
    { name: "truncated JSON", body: '{"csr": "-----BEGIN', contentType: "application/json", status: 400, field: "body" },
    { name: "single-quoted pseudo-JSON", body: "{'csr': 'x'}", contentType: "application/json", status: 400, field: "body" },
    { name: "trailing garbage", body: "{} x", contentType: "application/json", status: 400, field: "body" },
    { name: "form-encoded pairs (curl -d default type)", body: "csr=x&joinToken=y", contentType: "application/x-www-form-urlencoded", status: 400, field: "body" },
    { name: "invalid UTF-8 bytes", body: invalidUtf8, contentType: "application/json", status: 400, field: "body" },
    { name: "deeply nested arrays", body: deepArray, contentType: "application/json", status: 400, field: "body" },
    { name: "a 70 KB body", body: JSON.stringify({ csr: "A".repeat(70_000) }), contentType: "application/json", status: 413, field: "body" },
    { name: "YAML content type", body: "csr: x", contentType: "application/yaml", status: 415, field: "body" },
    { name: "multipart content type", body: "--x\r\n\r\n--x--", contentType: "multipart/form-data; boundary=x", status: 415, field: "body" },
    { name: "XML content type", body: "<csr/>", contentType: "application/xml", status: 415, field: "body" },
    { name: "HTML content type", body: "{}", contentType: "text/html", status: 415, field: "body" },
  ];
  test("a body that is not JSON is never quoted back (it may be a bare token)", async () => {
    for (const body of [joinToken, `{"joinToken": ${joinToken}}`, `{"csr": "x", "joinToken": "${joinToken}",}`]) {
      const r = await send("/v1/identity/attest", { method: "POST", contentType: "application/json", body });
      assertClientError(r, "non-JSON token", { status: 400, field: "body" });
      assert.ok(!r.text.includes(joinToken.slice(0, 6)), r.text);
    }
  });

  for (const route of [...uniqueRoutes()]) {
    test(`POST ${route.path}`, async () => {
      for (const b of bodies) {
        const r = await send(route.path, { method: "POST", authorization: route.auth(), contentType: b.contentType, body: b.body });
        assertClientError(r, `${route.path} ${b.name}`, { status: b.status, field: b.field });
      }
      const nested = await send(route.path, { method: "POST", authorization: route.auth(), contentType: "application/json", body: deepObject });
      assertClientError(nested, `${route.path} deeply nested object`, { status: 400, field: "a" });
    });
  }
});

describe("each field with the wrong type or value: 4xx naming that field", () => {
  for (const route of jsonRoutes) {
    for (const f of route.fields) {
      const name = fieldName(f.path);
      test(`POST ${route.path} ${name}`, async () => {
        for (const value of [...WRONG[f.kind], ...(f.alsoBad ?? [])]) {
          const body = withField(route.valid(), f.path, value);
          const r = await send(route.path, { method: "POST", authorization: route.auth(), contentType: "application/json", body: JSON.stringify(body) });
          const shown = typeof value === "string" && value.length > 40 ? `"x"*${value.length}` : JSON.stringify(value)?.slice(0, 60);
          assertClientError(r, `${route.path} ${name}=${shown}`, { field: name });
        }
        if (f.optional === true) return;
        const missing = withField(route.valid(), f.path, undefined);
        const r = await send(route.path, { method: "POST", authorization: route.auth(), contentType: "application/json", body: JSON.stringify(missing) });
        assertClientError(r, `${route.path} without ${name}`, { status: 400, field: f.missingField ?? name });
      });
    }
  }

  test("{} names the first required field", async () => {
    for (const route of uniqueRoutes()) {
      const r = await send(route.path, { method: "POST", authorization: route.auth(), contentType: "application/json", body: "{}" });
      assertClientError(r, `${route.path} {}`, { status: 400 });
      assert.match(r.json?.error?.message as string, /^[A-Za-z.[\]0-9]+: /, route.path);
    }
  });
});

describe("unknown fields are refused, naming them, before anything is written", () => {
  for (const route of jsonRoutes) {
    test(`POST ${route.path} ${[...new Set(route.fields.map((f) => f.path[0]))].join("+")}`, async () => {
      for (const extra of ["bogus", "ttlSecond", "__proto__", "constructor", "x".repeat(500)]) {
        const body = JSON.stringify(route.valid()).replace(/^\{/, `{${JSON.stringify(extra)}: {"admin": true},`);
        const r = await send(route.path, { method: "POST", authorization: route.auth(), contentType: "application/json", body });
        assertClientError(r, `${route.path} +${extra.slice(0, 20)}`, { status: 400 });
        const field = r.json?.error?.field as string;
        assert.ok(field.startsWith(extra.slice(0, 64)), `${route.path}: field ${field}`);
        assert.match(r.json?.error?.message as string, /unknown field/);
      }
    });
  }

  test("nested objects too: k8s.* and requests[i].*", async () => {
    const k8s = await send("/v1/identity/attest", { method: "POST", contentType: "application/json", body: JSON.stringify({ csr, k8s: { cluster: "prod", token: "a.b.c", namespace: "x" } }) });
    assertClientError(k8s, "k8s extra", { status: 400, field: "k8s.namespace" });
    const svids = await send("/v1/identity/svids", { method: "POST", authorization: node(), contentType: "application/json", body: JSON.stringify({ requests: [{ spiffeId: web(), csr, ttlSeconds: 60 }] }) });
    assertClientError(svids, "requests[0] extra", { status: 400, field: "requests[0].ttlSeconds" });
  });
});

describe("bad query and path parameters", () => {
  test("admin listings and deletions", async () => {
    for (const limit of ["abc", "0", "-1", "1e3", "1.5", "99999999999999999999", ""]) {
      assertClientError(await send(`/v1/audit?limit=${encodeURIComponent(limit)}`, { authorization: admin() }), `limit=${limit}`, { status: 400, field: "limit" });
    }
    for (const nodeFilter of ["garbage", `spiffe://${td()}/ns/a/sa/b`, "spiffe://other.example/node/c/n", "%ff"]) {
      assertClientError(await send(`/v1/identity/registrations?node=${encodeURIComponent(nodeFilter)}`, { authorization: admin() }), `node=${nodeFilter}`, { status: 400, field: "node" });
    }
    for (const path of ["/v1/identity/registrations/nope", "/v1/identity/registrations/%00", `/v1/tokens/${"z".repeat(3000)}`, "/v1/tokens/%E2%82"]) {
      assertClientError(await send(path, { method: "DELETE", authorization: admin() }), `DELETE ${path.slice(0, 40)}`, { status: 404 });
    }
    const odd = await send(`/v1/identity/svids?spiffeId=%ff&node=${"n".repeat(5000)}`, { authorization: admin() });
    assert.equal(odd.status, 200, odd.text.slice(0, 200));
  });
});

describe("garbage credentials are 401, never 5xx, and never echoed", () => {
  function unsignedJwt(header: Record<string, unknown>, claims: Record<string, unknown>, signature = ""): string {
    const enc = (o: unknown) => base64url.encode(new TextEncoder().encode(JSON.stringify(o)));
    return `${enc(header)}.${enc(claims)}.${signature}`;
  }

  test("on admin, node and public routes", async () => {
    const key = await importJwtSigningKey(ca.jwtSigningKeyPem);
    const now = Date.now();
    const exp = Math.floor(now / 1000) + 300;
    const id = SpiffeId.parse(nodeSpiffeId);
    const expired = (await mintJwtSvid({ spiffeId: id, audience: ["strait-control"], key, clock: new ManualClock(now - 2 * 3600_000), ttlSeconds: 300 })).token;
    const wrongAudience = (await mintJwtSvid({ spiffeId: id, audience: ["spiffe://strait.local/ns/shop/sa/web"], key, clock: new ManualClock(now), ttlSeconds: 300 })).token;
    const notANode = (await mintJwtSvid({ spiffeId: SpiffeId.parse(web()), audience: ["strait-control"], key, clock: new ManualClock(now), ttlSeconds: 300 })).token;
    const neverAttested = (await mintJwtSvid({ spiffeId: SpiffeId.parse(`spiffe://${td()}/node/c1/ghost`), audience: ["strait-control"], key, clock: new ManualClock(now), ttlSeconds: 300 })).token;
    const foreignKey = await importJwtSigningKey(await generateJwtSigningKeyPem());
    const foreignDomain = (await mintJwtSvid({ spiffeId: SpiffeId.parse("spiffe://evil.example/node/c1/n1"), audience: ["strait-control"], key: foreignKey, clock: new ManualClock(now), ttlSeconds: 300 })).token;
    const foreignSigned = (await mintJwtSvid({ spiffeId: id, audience: ["strait-control"], key: foreignKey, clock: new ManualClock(now), ttlSeconds: 300 })).token;
    const claims = { sub: nodeSpiffeId, aud: "strait-control", exp };
    const [h, p] = nodeJwt.split(".") as [string, string];
    const credentials: Record<string, string> = {
      "Bearer alone": "Bearer",
      "Bearer and two words": "Bearer abc def",
      "Basic x": "Basic x",
      "Basic with the admin token": `Basic ${Buffer.from(`admin:${ca.adminToken}`).toString("base64")}`,
      "the admin token without a scheme": ca.adminToken,
      "Token scheme": `Token ${ca.adminToken}`,
      "a wrong admin token": `Bearer ${ca.adminToken}x`,
      "three dots": "Bearer ..",
      "a.b.c": "Bearer a.b.c",
      "a very long token": `Bearer ${"t".repeat(9000)}`,
      "Latin-1 bytes": "Bearer \u00ff\u00fe\u00e9",
      "alg none, empty signature": `Bearer ${unsignedJwt({ alg: "none", typ: "JWT" }, claims)}`,
      "alg none with our kid": `Bearer ${unsignedJwt({ alg: "none", kid: key.kid, typ: "JWT" }, claims, "AAAA")}`,
      "HS256 keyed with the public key": `Bearer ${unsignedJwt({ alg: "HS256", kid: key.kid }, claims, "AAAA")}`,
      "an API-token typ, unsigned": `Bearer ${unsignedJwt({ alg: "none", typ: "strait-api+jwt" }, { ...claims, jti: "x", ns: ["*"], access: "write" }, "AAAA")}`,
      "an expired node JWT-SVID": `Bearer ${expired}`,
      "a node JWT-SVID for another audience": `Bearer ${wrongAudience}`,
      "a workload (not node) JWT-SVID": `Bearer ${notANode}`,
      "a JWT-SVID of a node never attested": `Bearer ${neverAttested}`,
      "a JWT-SVID of a foreign trust domain": `Bearer ${foreignDomain}`,
      "our node's JWT-SVID signed by a foreign key": `Bearer ${foreignSigned}`,
      "our node's JWT-SVID with its signature cut": `Bearer ${h}.${p}.AAAA`,
      "JSON serialization": `Bearer ${JSON.stringify({ protected: h, payload: p, signature: "AAAA" })}`,
    };
    const routes: (Sent & { path: string })[] = [
      { path: "/v1/identity/nodes" },
      { path: "/v1/identity/revocations" },
      { path: "/v1/identity/renew", method: "POST", contentType: "application/json", body: JSON.stringify({ csr }) },
      { path: "/v1/identity/renew/nonce", method: "POST" },
      { path: "/v1/identity/svids", method: "POST", contentType: "application/json", body: JSON.stringify({ requests: [{ spiffeId: web(), csr }] }) },
      { path: "/v1/identity/attest", method: "POST", contentType: "application/json", body: JSON.stringify({ csr, joinToken }) },
      { path: "/v1/identity/join-tokens", method: "POST", contentType: "application/json", body: JSON.stringify({ cluster: "c1", node: "n3" }) },
    ];
    for (const route of routes) {
      for (const [name, authorization] of Object.entries(credentials)) {
        const r = await send(route.path, { ...route, authorization });
        const where = `${route.path} with ${name}`;
        assertClientError(r, where, { status: 401, field: "Authorization" });
        assert.equal(r.headers.get("www-authenticate"), 'Bearer realm="strait"', where);
        const secret = authorization.replace(/^\S+ /, "");
        if (secret.length >= 8) assert.ok(!r.text.includes(secret), `${where}: the credential is echoed`);
        assert.ok(!r.text.includes(ca.adminToken), `${where}: the admin token is echoed`);
      }
    }
    const expiredAnswer = await send("/v1/identity/nodes", { authorization: `Bearer ${expired}` });
    assertClientError(expiredAnswer, "expired", { status: 401, field: "Authorization" });
    assert.equal(expiredAnswer.json?.error?.code, "ERR_JWT_SVID_INVALID");
    assert.match(expiredAnswer.json?.error?.message as string, /expired/);
    const foreignAnswer = await send("/v1/identity/nodes", { authorization: `Bearer ${foreignDomain}` });
    assert.match(foreignAnswer.json?.error?.message as string, /trust domain evil\.example/);
  });

  test("refusals are audited without the credential", async () => {
    const r = await send("/v1/audit?outcome=denied&limit=1000", { authorization: admin() });
    assert.equal(r.status, 200);
    assert.ok(((r.json as { events: unknown[] }).events).length > 0);
    assert.ok(!r.text.includes(ca.adminToken), "the admin token is in the audit log");
    assert.ok(!r.text.includes(nodeJwt.split(".")[2] as string), "a node JWT signature is in the audit log");
    assert.ok(!r.text.includes(joinToken), "a join token is in the audit log");
  });
});

describe("afterwards", () => {
  test("nothing was written and the spare join token still attests", async () => {
    assert.deepEqual(await writtenState(), stateBefore);
    const r = await send("/v1/identity/attest", { contentType: "application/json", body: JSON.stringify({ csr, joinToken }) });
    assert.equal(r.status, 200, r.text);
  });
});
