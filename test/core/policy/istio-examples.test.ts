/**
 * Istio's published security examples (test/fixtures/istio: the authz-http,
 * authz-deny, authz-jwt and authn-policy tasks), compiled through the real
 * validator and compileSnapshots, then evaluated by the policy core with the
 * outcomes the tasks document.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { parseDocuments } from "../../../src/core/config/parse-documents.ts";
import type { AnyResource } from "../../../src/core/config/resource.ts";
import { validateResource } from "../../../src/core/config/validate.ts";
import { compileSnapshots, type CompiledSnapshots } from "../../../src/core/snapshot/index.ts";
import {
  applyAuthnResultToAuthz,
  compileAuthorization,
  compileRequestAuthentication,
  createJwksResolver,
  resolvePeerAuthentication,
  type AuthzContext,
  type AuthzRequestAuth,
} from "../../../src/core/policy/index.ts";
import { projectRoot } from "../../support/control-worker.ts";
import { clock, jwks, makeKey, sign, type TestKey } from "./jwt-fixtures.ts";
import { headers } from "./policy-fixtures.ts";

const TD = "cluster.local";
const fixture = (name: string) => readFileSync(join(projectRoot, "test/fixtures/istio", name), "utf8");

function docs(yaml: string): AnyResource[] {
  return parseDocuments(yaml).map((doc, i) => {
    const r = validateResource(doc);
    assert.ok(r.ok, `document ${i} is valid: ${r.ok ? "" : JSON.stringify(r.errors)}`);
    return r.resource;
  });
}

let nextAddress = 10;
function workload(ns: string, name: string, sa: string, labels: Record<string, string>): string {
  return `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${name}, namespace: ${ns}, labels: {strait.io/cluster: c1, strait.io/node: n1}}
spec: {address: 10.0.0.${nextAddress++}, serviceAccount: ${sa}, labels: ${JSON.stringify(labels)}}
`;
}

const WORKLOADS = [
  workload("foo", "httpbin", "httpbin", { app: "httpbin" }),
  workload("foo", "sleep", "sleep", { app: "sleep" }),
  workload("bar", "httpbin", "httpbin", { app: "httpbin" }),
  workload("default", "productpage", "bookinfo-productpage", { app: "productpage" }),
  workload("default", "details", "bookinfo-details", { app: "details" }),
  workload("default", "reviews", "bookinfo-reviews", { app: "reviews" }),
  workload("default", "ratings", "bookinfo-ratings", { app: "ratings" }),
].join("---\n");

function compile(policies: AnyResource[]): CompiledSnapshots {
  return compileSnapshots({ resources: [...docs(WORKLOADS), ...policies], trustDomain: TD, rootNamespace: "istio-system" });
}

function node(s: CompiledSnapshots) {
  assert.equal(s.nodes.length, 1);
  return s.nodes[0]!;
}

const principal = (ns: string, sa: string) => `spiffe://${TD}/ns/${ns}/sa/${sa}`;

function http(o: { from?: string; method?: string; path?: string; port?: number; headers?: Record<string, string>; auth?: AuthzRequestAuth }): AuthzContext {
  return {
    source: { ...(o.from === undefined ? {} : { principal: o.from }), ip: "10.0.0.9" },
    destination: { port: o.port ?? 8000 },
    request: { host: "httpbin.foo:8000", method: o.method ?? "GET", path: o.path ?? "/", headers: headers(o.headers), ...(o.auth === undefined ? {} : { auth: o.auth }) },
  };
}

// ---- JWKS for the jwt tasks: the fixtures name raw.githubusercontent.com; a loopback server stands in for it ----
let server: Server;
let local: string;
let key: TestKey;
let fetched: string[] = [];

before(async () => {
  key = await makeKey("DHFbpoIUqrY8t2zpA2qXfCmr5VO5ZEr4RzHU_-envvQ");
  server = createServer((req, res) => {
    res.writeHead(200, { "content-type": "application/json" }).end(jwks(key));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  local = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Real HTTP to the loopback stand-in: only the origin of the published URL changes. */
function resolver() {
  return createJwksResolver({
    clock: clock(),
    fetch: (url, init) => {
      fetched.push(url);
      const u = new URL(url);
      return fetch(`${local}${u.pathname}`, init);
    },
  });
}

test("authz-http: allow-nothing, then GET viewers and principal-scoped viewers (bookinfo)", () => {
  const all = docs(fixture("authz-http.yaml"));
  const n = node(compile(all));
  const productpage = compileAuthorization(n.authorizationPolicies, "default/productpage");
  assert.equal(productpage.evaluate(http({ method: "GET" })).allow, true);
  assert.equal(productpage.evaluate(http({ method: "POST" })).allow, false);
  const details = compileAuthorization(n.authorizationPolicies, "default/details");
  assert.equal(details.evaluate(http({ from: principal("default", "bookinfo-productpage") })).allow, true);
  assert.deepEqual(details.evaluate(http({ from: principal("default", "bookinfo-productpage") })).policy, "default/details-viewer");
  assert.equal(details.evaluate(http({ from: principal("default", "bookinfo-reviews") })).allow, false);
  assert.equal(details.evaluate(http({})).allow, false, "plaintext has no principal");
  const ratings = compileAuthorization(n.authorizationPolicies, "default/ratings");
  assert.equal(ratings.evaluate(http({ from: principal("default", "bookinfo-reviews") })).allow, true);
  assert.equal(ratings.evaluate(http({ from: principal("default", "bookinfo-productpage") })).allow, false);
  // Only allow-nothing: everything in the namespace is denied.
  const only = compileAuthorization(node(compile([all[0]!])).authorizationPolicies, "default/ratings");
  assert.deepEqual(only.evaluate(http({ from: principal("default", "bookinfo-reviews") })), { allow: false, reason: "no matching ALLOW policy", audit: false });
  // Policies of the default namespace do not reach foo.
  assert.equal(compileAuthorization(n.authorizationPolicies, "foo/httpbin").evaluate(http({ method: "DELETE" })).allow, true);
});

test("authz-deny: deny GET; deny GET unless x-token admin; plus allow /ip only", () => {
  const [denyGet, denyUnlessAdmin, allowIp] = docs(fixture("authz-deny.yaml"));
  const a = compileAuthorization(node(compile([denyGet!])).authorizationPolicies, "foo/httpbin");
  assert.equal(a.evaluate(http({ method: "GET", path: "/get" })).allow, false);
  assert.equal(a.evaluate(http({ method: "POST", path: "/post" })).allow, true);
  const b = compileAuthorization(node(compile([denyUnlessAdmin!])).authorizationPolicies, "foo/httpbin");
  assert.equal(b.evaluate(http({ path: "/get", headers: { "x-token": "admin" } })).allow, true);
  assert.equal(b.evaluate(http({ path: "/get", headers: { "x-token": "guest" } })).allow, false);
  const c = compileAuthorization(node(compile([denyUnlessAdmin!, allowIp!])).authorizationPolicies, "foo/httpbin");
  assert.equal(c.evaluate(http({ path: "/ip", headers: { "x-token": "admin" } })).allow, true);
  assert.equal(c.evaluate(http({ path: "/get", headers: { "x-token": "admin" } })).allow, false, "not /ip: no ALLOW matches");
  assert.equal(c.evaluate(http({ path: "/ip", headers: { "x-token": "guest" } })).allow, false, "DENY first");
  // bar/httpbin is not selected by foo's policies.
  assert.equal(compileAuthorization(node(compile([denyGet!])).authorizationPolicies, "bar/httpbin").evaluate(http({})).allow, true);
});

test("authz-jwt: RequestAuthentication with jwksUri, require-jwt, then the groups claim", async () => {
  const [ra, requireJwt, requireGroup] = docs(fixture("authz-jwt.yaml"));
  fetched = [];
  for (const [policies, needsGroup] of [[[ra!, requireJwt!], false], [[ra!, requireGroup!], true]] as const) {
    const n = node(compile([...policies]));
    const authn = compileRequestAuthentication(n.requestAuthentications, { jwks: resolver(), clock: clock(), forWorkload: "foo/httpbin" });
    const authz = compileAuthorization(n.authorizationPolicies, "foo/httpbin");
    const call = async (h: Record<string, string>) => {
      const r = await authn.authenticate({ method: "GET", url: "/headers", headers: headers(h) });
      if (r.kind === "invalid") return 401;
      const auth = applyAuthnResultToAuthz(r);
      return authz.evaluate(http({ path: "/headers", ...(auth === undefined ? {} : { auth }) })).allow ? 200 : 403;
    };
    const ISS = "testing@secure.istio.io";
    const demo = await sign(key, { iss: ISS, sub: ISS, foo: "bar" });
    const groups = await sign(key, { iss: ISS, sub: ISS, groups: ["group1", "group2"], scope: ["scope1", "scope2"] });
    assert.equal(await call({}), 403, "no token: denied by require-jwt");
    assert.equal(await call({ authorization: "Bearer invalidToken" }), 401);
    assert.equal(await call({ authorization: `Bearer ${demo}` }), needsGroup ? 403 : 200);
    assert.equal(await call({ authorization: `Bearer ${groups}` }), 200);
  }
  assert.ok(fetched.length >= 1);
  assert.ok(fetched.every((u) => u === "https://raw.githubusercontent.com/istio/istio/release-1.8/security/tools/jwt/samples/jwks.json"));
});

test("authn-policy: mesh STRICT, namespace, workload override and port-level DISABLE", () => {
  const [meshStrict, fooStrict, barHttpbin, barHttpbinPort80, overwrite] = docs(fixture("authn-policy.yaml"));
  const mode = (policies: AnyResource[], wl: string, port: number) => resolvePeerAuthentication(node(compile(policies)).peerAuthentications, wl, port);
  assert.equal(mode([meshStrict!], "foo/httpbin", 8000), "STRICT");
  assert.equal(mode([meshStrict!, fooStrict!], "bar/httpbin", 8000), "STRICT");
  assert.equal(mode([meshStrict!, overwrite!], "foo/httpbin", 8000), "DISABLE", "workload beats mesh");
  assert.equal(mode([meshStrict!, overwrite!], "foo/sleep", 8000), "STRICT", "selector only picks httpbin");
  assert.equal(mode([barHttpbinPort80!], "bar/httpbin", 80), "DISABLE");
  assert.equal(mode([barHttpbinPort80!], "bar/httpbin", 8000), "STRICT");
  assert.equal(mode([barHttpbin!], "bar/httpbin", 80), "STRICT");
  // Nothing configured: Strait is STRICT (Istio would be PERMISSIVE), unless told otherwise.
  assert.equal(mode([], "foo/httpbin", 8000), "STRICT");
  assert.equal(resolvePeerAuthentication(node(compile([])).peerAuthentications, "foo/httpbin", 8000, { defaultMode: "PERMISSIVE" }), "PERMISSIVE");
});

test("authn-policy: JWT at the ingress gateway (RequestAuthentication + DENY notRequestPrincipals)", async () => {
  const all = docs(fixture("authn-policy.yaml"));
  const gw = all.find((r) => r.kind === "Gateway")!;
  const vs = all.find((r) => r.kind === "VirtualService")!;
  const ra = all.find((r) => r.kind === "RequestAuthentication")!;
  const [denyAll, denyHeaders] = all.filter((r) => r.kind === "AuthorizationPolicy");
  const ISS = "testing@secure.istio.io";
  const token = await sign(key, { iss: ISS, sub: ISS });
  for (const [deny, protectedPath] of [[denyAll!, "/ip"], [denyHeaders!, "/headers"]] as const) {
    const s = compile([gw, vs, ra, deny]);
    const target = "foo/httpbin-gateway";
    assert.deepEqual(s.gateway.requestAuthentications.map((p) => p.appliesTo), [[target]]);
    const authn = compileRequestAuthentication(s.gateway.requestAuthentications, { jwks: resolver(), clock: clock(), forWorkload: target });
    const authz = compileAuthorization(s.gateway.authorizationPolicies, target);
    const call = async (path: string, h: Record<string, string>) => {
      const r = await authn.authenticate({ method: "GET", url: path, headers: headers(h) });
      if (r.kind === "invalid") return 401;
      const auth = applyAuthnResultToAuthz(r);
      return authz.evaluate({ source: { ip: "203.0.113.9" }, destination: { port: 80 }, request: { host: "httpbin.example.com", method: "GET", path, headers: headers(h), ...(auth === undefined ? {} : { auth }) } }).allow ? 200 : 403;
    };
    assert.equal(await call(protectedPath, {}), 403);
    assert.equal(await call(protectedPath, { authorization: `Bearer ${token}` }), 200);
    assert.equal(await call(protectedPath, { authorization: "Bearer deadbeef" }), 401);
    if (protectedPath === "/headers") assert.equal(await call("/ip", {}), 200, "only /headers needs a token");
  }
});
