/**
 * AuthorizationPolicy case table: pure data plus a runtime-free runner, so the
 * same table runs on Node (authorization.test.ts), inside workerd and on Deno
 * (runtimes.test.ts) and must give identical results.
 *
 * Every policy spec goes through the real validator first (unless `raw`), so
 * the table only holds policies Strait would accept from a user.
 */
import type { AuthorizationPolicySpec } from "../../../src/core/config/kinds/authorization-policy.ts";
import { validateResource } from "../../../src/core/config/validate.ts";
import { compileAuthorization, type AuthzContext } from "../../../src/core/policy/index.ts";
import type { CompiledPolicy } from "../../../src/core/snapshot/snapshot-model.ts";

export interface PolicyInput {
  name?: string;
  namespace?: string;
  scope?: "mesh" | "namespace" | "workload";
  appliesTo?: string[];
  spec: Record<string, unknown>;
  /** Skip validation: a malformed policy that reached a data plane anyway. */
  raw?: boolean;
}

/** JSON-friendly context: headers as a record. */
export interface CaseContext {
  source?: { principal?: string; ip?: string; remoteIp?: string };
  request?: {
    host?: string;
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    auth?: { principal?: string; audiences?: string[]; presenter?: string; claims?: Record<string, unknown> };
  } | null;
  destination?: { ip?: string; port?: number };
  connection?: { sni?: string };
}

export interface AuthzCase {
  name: string;
  policies: PolicyInput[];
  ctx: CaseContext;
  forWorkload?: string;
  expect: { allow: boolean; policy?: string; audit?: boolean; problems?: number };
}

const SLEEP = "cluster.local/ns/default/sa/sleep";
const DEV = "spiffe://cluster.local/ns/dev/sa/tester";

function toContext(c: CaseContext): AuthzContext {
  const ctx: AuthzContext = {
    source: { ...(c.source ?? {}) },
    destination: { port: c.destination?.port ?? 8000, ...(c.destination?.ip === undefined ? {} : { ip: c.destination.ip }) },
  };
  if (c.connection !== undefined) ctx.connection = c.connection;
  if (c.request !== null) {
    const r = c.request ?? {};
    ctx.request = {
      host: r.host ?? "httpbin.foo:8000",
      method: r.method ?? "GET",
      path: r.path ?? "/ip",
      headers: new Map(Object.entries(r.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v])),
      ...(r.auth === undefined ? {} : { auth: r.auth }),
    };
  }
  return ctx;
}

function toPolicy(p: PolicyInput, i: number): CompiledPolicy<AuthorizationPolicySpec> {
  const namespace = p.namespace ?? "foo";
  const name = p.name ?? `p${i}`;
  if (p.raw !== true) {
    const r = validateResource({ apiVersion: "security.istio.io/v1", kind: "AuthorizationPolicy", metadata: { name, namespace }, spec: p.spec });
    if (!r.ok) throw new Error(`case policy ${namespace}/${name} is invalid: ${JSON.stringify(r.errors)}`);
  }
  return {
    source: { kind: "AuthorizationPolicy", namespace, name },
    scope: p.scope ?? "namespace",
    appliesTo: p.appliesTo ?? ["foo/httpbin"],
    spec: p.spec as AuthorizationPolicySpec,
  };
}

export interface CaseResult {
  name: string;
  allow: boolean;
  policy: string | null;
  audit: boolean;
  problems: number;
}

/** Runs every case; deterministic, JSON-able output. */
export function runAuthzCases(cases: readonly AuthzCase[] = AUTHZ_CASES): CaseResult[] {
  return cases.map((c) => {
    const engine = compileAuthorization(c.policies.map(toPolicy), c.forWorkload);
    const d = engine.evaluate(toContext(c.ctx));
    return { name: c.name, allow: d.allow, policy: d.policy ?? null, audit: d.audit, problems: engine.problems.length };
  });
}

const allowAll = { rules: [{}] };
const tcp = (port = 8000, source: CaseContext["source"] = { principal: SLEEP, ip: "10.0.0.5" }): CaseContext => ({ request: null, source, destination: { port } });
const get = (path: string, extra: Partial<NonNullable<CaseContext["request"]>> = {}): CaseContext => ({ source: { principal: SLEEP, ip: "10.0.0.5" }, request: { path, ...extra } });

export const AUTHZ_CASES: AuthzCase[] = [
  // ---- defaults and empty rules ----
  { name: "no policies: allow", policies: [], ctx: get("/"), expect: { allow: true } },
  { name: "spec {} is allow-nothing", policies: [{ name: "allow-nothing", spec: {} }], ctx: get("/"), expect: { allow: false } },
  { name: "rules: [] is allow-nothing too (same as unset)", policies: [{ spec: { rules: [] } }], ctx: get("/"), expect: { allow: false } },
  { name: "rules: [{}] allows everything", policies: [{ name: "allow-all", spec: allowAll }], ctx: get("/"), expect: { allow: true, policy: "foo/allow-all" } },
  { name: "rules: [{}] allows TCP too", policies: [{ name: "allow-all", spec: allowAll }], ctx: tcp(), expect: { allow: true, policy: "foo/allow-all" } },
  { name: "allow-nothing plus allow-all: allowed (any ALLOW match)", policies: [{ spec: {} }, { name: "all", spec: allowAll }], ctx: get("/"), expect: { allow: true, policy: "foo/all" } },
  { name: "policy for another workload is ignored", forWorkload: "foo/httpbin", policies: [{ spec: {}, appliesTo: ["foo/other"] }], ctx: get("/"), expect: { allow: true } },
  { name: "policy for this workload applies", forWorkload: "foo/httpbin", policies: [{ spec: {}, appliesTo: ["foo/other", "foo/httpbin"] }], ctx: get("/"), expect: { allow: false } },

  // ---- DENY before ALLOW ----
  { name: "DENY wins over a matching ALLOW", policies: [{ name: "all", spec: allowAll }, { name: "deny-get", spec: { action: "DENY", rules: [{ to: [{ operation: { methods: ["GET"] } }] }] } }], ctx: get("/"), expect: { allow: false, policy: "foo/deny-get" } },
  { name: "DENY not matching falls through to ALLOW", policies: [{ name: "all", spec: allowAll }, { spec: { action: "DENY", rules: [{ to: [{ operation: { methods: ["POST"] } }] }] } }], ctx: get("/"), expect: { allow: true, policy: "foo/all" } },
  { name: "DENY only: unmatched requests are allowed", policies: [{ spec: { action: "DENY", rules: [{ to: [{ operation: { methods: ["POST"] } }] }] } }], ctx: get("/"), expect: { allow: true } },
  { name: "mesh-wide DENY reported first", policies: [{ name: "ns-deny", spec: { action: "DENY", rules: [{}] } }, { name: "root-deny", namespace: "istio-system", scope: "mesh", spec: { action: "DENY", rules: [{}] } }], ctx: get("/"), expect: { allow: false, policy: "istio-system/root-deny" } },

  // ---- principals ----
  { name: "principals exact", policies: [{ spec: { rules: [{ from: [{ source: { principals: [SLEEP] } }] }] } }], ctx: get("/"), expect: { allow: true, policy: "foo/p0" } },
  { name: "principals exact (peer given as spiffe:// URI)", policies: [{ spec: { rules: [{ from: [{ source: { principals: [SLEEP] } }] }] } }], ctx: { source: { principal: `spiffe://${SLEEP}` }, request: {} }, expect: { allow: true, policy: "foo/p0" } },
  { name: "principals mismatch", policies: [{ spec: { rules: [{ from: [{ source: { principals: ["cluster.local/ns/default/sa/other"] } }] }] } }], ctx: get("/"), expect: { allow: false } },
  { name: "principals prefix", policies: [{ spec: { rules: [{ from: [{ source: { principals: ["cluster.local/ns/default/*"] } }] }] } }], ctx: get("/"), expect: { allow: true, policy: "foo/p0" } },
  { name: "principals suffix", policies: [{ spec: { rules: [{ from: [{ source: { principals: ["*/sa/sleep"] } }] }] } }], ctx: get("/"), expect: { allow: true, policy: "foo/p0" } },
  { name: "principals * needs an identity (plaintext denied)", policies: [{ spec: { rules: [{ from: [{ source: { principals: ["*"] } }] }] } }], ctx: { source: { ip: "10.0.0.5" }, request: {} }, expect: { allow: false } },
  { name: "principals * with mTLS", policies: [{ spec: { rules: [{ from: [{ source: { principals: ["*"] } }] }] } }], ctx: get("/"), expect: { allow: true, policy: "foo/p0" } },
  { name: "principals: * in the middle is literal", policies: [{ spec: { rules: [{ from: [{ source: { principals: ["cluster.local/ns/*/sa/sleep"] } }] }] } }], ctx: get("/"), expect: { allow: false } },
  { name: "notPrincipals excludes", policies: [{ spec: { rules: [{ from: [{ source: { notPrincipals: [SLEEP] } }] }] } }], ctx: get("/"), expect: { allow: false } },
  { name: "notPrincipals matches plaintext peers", policies: [{ spec: { rules: [{ from: [{ source: { notPrincipals: [SLEEP] } }] }] } }], ctx: { source: {}, request: {} }, expect: { allow: true, policy: "foo/p0" } },
  { name: "DENY notPrincipals * denies plaintext", policies: [{ spec: { action: "DENY", rules: [{ from: [{ source: { notPrincipals: ["*"] } }] }] } }], ctx: { source: {}, request: {} }, expect: { allow: false, policy: "foo/p0" } },

  // ---- namespaces ----
  { name: "namespaces match from the peer identity", policies: [{ spec: { rules: [{ from: [{ source: { namespaces: ["default"] } }] }] } }], ctx: get("/"), expect: { allow: true, policy: "foo/p0" } },
  { name: "namespaces other", policies: [{ spec: { rules: [{ from: [{ source: { namespaces: ["dev"] } }] }] } }], ctx: get("/"), expect: { allow: false } },
  { name: "namespaces wildcard", policies: [{ spec: { rules: [{ from: [{ source: { namespaces: ["def*"] } }] }] } }], ctx: get("/"), expect: { allow: true, policy: "foo/p0" } },
  { name: "namespaces need mTLS", policies: [{ spec: { rules: [{ from: [{ source: { namespaces: ["default"] } }] }] } }], ctx: { source: { ip: "10.0.0.5" }, request: {} }, expect: { allow: false } },
  { name: "notNamespaces", policies: [{ spec: { action: "DENY", rules: [{ from: [{ source: { notNamespaces: ["default"] } }] }] } }], ctx: { source: { principal: DEV }, request: {} }, expect: { allow: false, policy: "foo/p0" } },
  { name: "notNamespaces lets own namespace through", policies: [{ spec: { action: "DENY", rules: [{ from: [{ source: { notNamespaces: ["default"] } }] }] } }], ctx: get("/"), expect: { allow: true } },
  { name: "serviceAccounts ns/sa", policies: [{ spec: { rules: [{ from: [{ source: { serviceAccounts: ["default/sleep"] } }] }] } }], ctx: get("/"), expect: { allow: true, policy: "foo/p0" } },
  { name: "serviceAccounts does not match a longer name", policies: [{ spec: { rules: [{ from: [{ source: { serviceAccounts: ["default/slee"] } }] }] } }], ctx: get("/"), expect: { allow: false } },

  { name: "notServiceAccounts", policies: [{ spec: { action: "DENY", rules: [{ from: [{ source: { notServiceAccounts: ["default/sleep"] } }] }] } }], ctx: { source: { principal: DEV }, request: {} }, expect: { allow: false, policy: "foo/p0" } },
  { name: "notServiceAccounts lets the named account through", policies: [{ spec: { action: "DENY", rules: [{ from: [{ source: { notServiceAccounts: ["default/sleep"] } }] }] } }], ctx: get("/"), expect: { allow: true } },
  { name: "trustDomains", policies: [{ spec: { rules: [{ from: [{ source: { trustDomains: ["cluster.local"], ipBlocks: ["10.0.0.0/8"] } }] }] } }], ctx: get("/"), expect: { allow: true, policy: "foo/p0" } },
  { name: "notTrustDomains", policies: [{ spec: { rules: [{ from: [{ source: { notTrustDomains: ["cluster.local"], ipBlocks: ["10.0.0.0/8"] } }] }] } }], ctx: get("/"), expect: { allow: false } },
  { name: "when source.serviceAccount", policies: [{ spec: { rules: [{ when: [{ key: "source.serviceAccount", values: ["default/sleep"] }] }] } }], ctx: get("/"), expect: { allow: true, policy: "foo/p0" } },
  { name: "when source.trustDomain (engine supports it; the validator refuses the key today)", policies: [{ raw: true, spec: { rules: [{ when: [{ key: "source.trustDomain", values: ["other.domain"] }] }] } }], ctx: get("/"), expect: { allow: false } },
  { name: "when source.namespace wildcard", policies: [{ spec: { rules: [{ when: [{ key: "source.namespace", values: ["*fault"] }] }] } }], ctx: get("/"), expect: { allow: true, policy: "foo/p0" } },

  // ---- IP blocks ----
  { name: "ipBlocks CIDR v4", policies: [{ spec: { rules: [{ from: [{ source: { ipBlocks: ["10.0.0.0/24"] } }] }] } }], ctx: get("/"), expect: { allow: true, policy: "foo/p0" } },
  { name: "ipBlocks single IP", policies: [{ spec: { rules: [{ from: [{ source: { ipBlocks: ["10.0.0.5"] } }] }] } }], ctx: get("/"), expect: { allow: true, policy: "foo/p0" } },
  { name: "ipBlocks outside", policies: [{ spec: { rules: [{ from: [{ source: { ipBlocks: ["10.0.1.0/24"] } }] }] } }], ctx: get("/"), expect: { allow: false } },
  { name: "ipBlocks /0 v4 does not match v6 peers", policies: [{ spec: { rules: [{ from: [{ source: { ipBlocks: ["0.0.0.0/0"] } }] }] } }], ctx: { source: { ip: "2001:db8::1" }, request: {} }, expect: { allow: false } },
  { name: "ipBlocks v6 CIDR", policies: [{ spec: { rules: [{ from: [{ source: { ipBlocks: ["2001:db8::/32"] } }] }] } }], ctx: { source: { ip: "2001:db8:abcd::1" }, request: {} }, expect: { allow: true, policy: "foo/p0" } },
  { name: "ipBlocks v6 outside", policies: [{ spec: { rules: [{ from: [{ source: { ipBlocks: ["2001:db8::/33"] } }] }] } }], ctx: { source: { ip: "2001:db8:8000::1" }, request: {} }, expect: { allow: false } },
  { name: "ipBlocks v4 matches an IPv4-mapped peer", policies: [{ spec: { rules: [{ from: [{ source: { ipBlocks: ["10.0.0.0/8"] } }] }] } }], ctx: { source: { ip: "::ffff:10.1.2.3" }, request: {} }, expect: { allow: true, policy: "foo/p0" } },
  { name: "notIpBlocks", policies: [{ spec: { action: "DENY", rules: [{ from: [{ source: { notIpBlocks: ["10.0.0.0/8"] } }] }] } }], ctx: { source: { ip: "192.168.1.1" }, request: {} }, expect: { allow: false, policy: "foo/p0" } },
  { name: "remoteIpBlocks use the original client", policies: [{ spec: { rules: [{ from: [{ source: { remoteIpBlocks: ["203.0.113.0/24"] } }] }] } }], ctx: { source: { ip: "10.0.0.5", remoteIp: "203.0.113.7" }, request: {} }, expect: { allow: true, policy: "foo/p0" } },
  { name: "remoteIpBlocks fall back to the peer address", policies: [{ spec: { rules: [{ from: [{ source: { remoteIpBlocks: ["10.0.0.0/8"] } }] }] } }], ctx: get("/"), expect: { allow: true, policy: "foo/p0" } },
  { name: "ipBlocks use the direct peer, not the client", policies: [{ spec: { rules: [{ from: [{ source: { ipBlocks: ["203.0.113.0/24"] } }] }] } }], ctx: { source: { ip: "10.0.0.5", remoteIp: "203.0.113.7" }, request: {} }, expect: { allow: false } },
  { name: "notRemoteIpBlocks", policies: [{ spec: { action: "DENY", rules: [{ from: [{ source: { notRemoteIpBlocks: ["203.0.113.0/24"] } }] }] } }], ctx: { source: { ip: "10.0.0.5", remoteIp: "198.51.100.1" }, request: {} }, expect: { allow: false, policy: "foo/p0" } },

  // ---- request principals ----
  { name: "requestPrincipals exact", policies: [{ spec: { rules: [{ from: [{ source: { requestPrincipals: ["https://issuer.example/alice"] } }] }] } }], ctx: get("/", { auth: { principal: "https://issuer.example/alice", claims: { iss: "https://issuer.example", sub: "alice" } } }), expect: { allow: true, policy: "foo/p0" } },
  { name: "requestPrincipals * requires a token", policies: [{ spec: { rules: [{ from: [{ source: { requestPrincipals: ["*"] } }] }] } }], ctx: get("/"), expect: { allow: false } },
  { name: "requestPrincipals iss/* any subject", policies: [{ spec: { rules: [{ from: [{ source: { requestPrincipals: ["https://issuer.example/*"] } }] }] } }], ctx: get("/", { auth: { principal: "https://issuer.example/bob" } }), expect: { allow: true, policy: "foo/p0" } },
  { name: "requestPrincipals */sub any issuer", policies: [{ spec: { rules: [{ from: [{ source: { requestPrincipals: ["*/bob"] } }] }] } }], ctx: get("/", { auth: { principal: "https://other.example/bob" } }), expect: { allow: true, policy: "foo/p0" } },
  { name: "requestPrincipals subject with slash uses claims", policies: [{ spec: { rules: [{ from: [{ source: { requestPrincipals: ["iss.example/team/bob"] } }] }] } }], ctx: get("/", { auth: { principal: "iss.example/team/bob", claims: { iss: "iss.example", sub: "team/bob" } } }), expect: { allow: false } },
  { name: "DENY notRequestPrincipals * denies anonymous (Istio ingress example)", policies: [{ spec: { action: "DENY", rules: [{ from: [{ source: { notRequestPrincipals: ["*"] } }] }] } }], ctx: get("/"), expect: { allow: false, policy: "foo/p0" } },
  { name: "DENY notRequestPrincipals * lets tokens through", policies: [{ spec: { action: "DENY", rules: [{ from: [{ source: { notRequestPrincipals: ["*"] } }] }] } }], ctx: get("/", { auth: { principal: "a/b" } }), expect: { allow: true } },

  // ---- hosts ----
  { name: "hosts case-insensitive", policies: [{ spec: { rules: [{ to: [{ operation: { hosts: ["HTTPBIN.foo:8000"] } }] }] } }], ctx: get("/"), expect: { allow: true, policy: "foo/p0" } },
  { name: "hosts compare the whole authority: no port, no match", policies: [{ spec: { rules: [{ to: [{ operation: { hosts: ["httpbin.foo"] } }] }] } }], ctx: get("/"), expect: { allow: false } },
  { name: "hosts host:* matches any port", policies: [{ spec: { rules: [{ to: [{ operation: { hosts: ["httpbin.foo:*"] } }] }] } }], ctx: get("/"), expect: { allow: true, policy: "foo/p0" } },
  { name: "hosts suffix wildcard", policies: [{ spec: { rules: [{ to: [{ operation: { hosts: ["*.example.com"] } }] }] } }], ctx: get("/", { host: "API.Example.com" }), expect: { allow: true, policy: "foo/p0" } },
  { name: "notHosts", policies: [{ spec: { action: "DENY", rules: [{ to: [{ operation: { notHosts: ["*.example.com"] } }] }] } }], ctx: get("/", { host: "evil.test" }), expect: { allow: false, policy: "foo/p0" } },

  // ---- ports ----
  { name: "ports", policies: [{ spec: { rules: [{ to: [{ operation: { ports: ["8000"] } }] }] } }], ctx: get("/"), expect: { allow: true, policy: "foo/p0" } },
  { name: "ports other", policies: [{ spec: { rules: [{ to: [{ operation: { ports: ["9000"] } }] }] } }], ctx: get("/"), expect: { allow: false } },
  { name: "notPorts", policies: [{ spec: { rules: [{ to: [{ operation: { notPorts: ["8000"] } }] }] } }], ctx: get("/"), expect: { allow: false } },

  // ---- methods ----
  { name: "methods", policies: [{ spec: { rules: [{ to: [{ operation: { methods: ["GET", "HEAD"] } }] }] } }], ctx: get("/"), expect: { allow: true, policy: "foo/p0" } },
  { name: "methods are case-sensitive", policies: [{ spec: { rules: [{ to: [{ operation: { methods: ["get"] } }] }] } }], ctx: get("/"), expect: { allow: false } },
  { name: "notMethods", policies: [{ spec: { rules: [{ to: [{ operation: { notMethods: ["GET"] } }] }] } }], ctx: get("/", { method: "POST" }), expect: { allow: true, policy: "foo/p0" } },

  // ---- paths ----
  { name: "paths exact", policies: [{ spec: { rules: [{ to: [{ operation: { paths: ["/ip"] } }] }] } }], ctx: get("/ip"), expect: { allow: true, policy: "foo/p0" } },
  { name: "paths exact ignores the query", policies: [{ spec: { rules: [{ to: [{ operation: { paths: ["/ip"] } }] }] } }], ctx: get("/ip?x=1"), expect: { allow: true, policy: "foo/p0" } },
  { name: "paths exact is exact", policies: [{ spec: { rules: [{ to: [{ operation: { paths: ["/ip"] } }] }] } }], ctx: get("/ip/"), expect: { allow: false } },
  { name: "paths prefix", policies: [{ spec: { rules: [{ to: [{ operation: { paths: ["/info*"] } }] }] } }], ctx: get("/information"), expect: { allow: true, policy: "foo/p0" } },
  { name: "paths suffix", policies: [{ spec: { rules: [{ to: [{ operation: { paths: ["*.png"] } }] }] } }], ctx: get("/img/a.png"), expect: { allow: true, policy: "foo/p0" } },
  { name: "paths * any", policies: [{ spec: { rules: [{ to: [{ operation: { paths: ["*"] } }] }] } }], ctx: get("/anything"), expect: { allow: true, policy: "foo/p0" } },
  { name: "paths are normalized before matching (dot segments)", policies: [{ name: "all", spec: allowAll }, { name: "no-admin", spec: { action: "DENY", rules: [{ to: [{ operation: { paths: ["/admin*"] } }] }] } }], ctx: get("/public/../admin/users"), expect: { allow: false, policy: "foo/no-admin" } },
  { name: "paths: encoded dot segments are dots", policies: [{ name: "all", spec: allowAll }, { name: "no-admin", spec: { action: "DENY", rules: [{ to: [{ operation: { paths: ["/admin*"] } }] }] } }], ctx: get("/public/%2e%2e/admin"), expect: { allow: false, policy: "foo/no-admin" } },
  { name: "paths: percent-encoded letters are decoded before matching (BASE)", policies: [{ name: "all", spec: allowAll }, { name: "no-admin", spec: { action: "DENY", rules: [{ to: [{ operation: { paths: ["/admin*"] } }] }] } }], ctx: get("/%61dmin"), expect: { allow: false, policy: "foo/no-admin" } },
  { name: "paths: backslashes are slashes (BASE)", policies: [{ name: "all", spec: allowAll }, { name: "no-admin", spec: { action: "DENY", rules: [{ to: [{ operation: { paths: ["/admin/*"] } }] }] } }], ctx: get("/admin\\users"), expect: { allow: false, policy: "foo/no-admin" } },
  { name: "notPaths", policies: [{ spec: { rules: [{ to: [{ operation: { notPaths: ["/admin*"] } }] }] } }], ctx: get("/admin/x"), expect: { allow: false } },
  { name: "path template {*} one segment", policies: [{ spec: { rules: [{ to: [{ operation: { paths: ["/users/{*}/orders"] } }] }] } }], ctx: get("/users/42/orders"), expect: { allow: true, policy: "foo/p0" } },
  { name: "path template {*} not two segments", policies: [{ spec: { rules: [{ to: [{ operation: { paths: ["/users/{*}/orders"] } }] }] } }], ctx: get("/users/4/2/orders"), expect: { allow: false } },
  { name: "path template {*} not empty", policies: [{ spec: { rules: [{ to: [{ operation: { paths: ["/users/{*}"] } }] }] } }], ctx: get("/users/"), expect: { allow: false } },
  { name: "path template {**} the rest", policies: [{ spec: { rules: [{ to: [{ operation: { paths: ["/static/{**}"] } }] }] } }], ctx: get("/static/css/site.css"), expect: { allow: true, policy: "foo/p0" } },
  { name: "path template {**} zero segments after the slash", policies: [{ spec: { rules: [{ to: [{ operation: { paths: ["/static/{**}"] } }] }] } }], ctx: get("/static/"), expect: { allow: true, policy: "foo/p0" } },
  { name: "path template {**} needs its slash", policies: [{ spec: { rules: [{ to: [{ operation: { paths: ["/static/{**}"] } }] }] } }], ctx: get("/static"), expect: { allow: false } },
  { name: "path template {**} then a literal", policies: [{ spec: { rules: [{ to: [{ operation: { paths: ["/{**}/edit"] } }] }] } }], ctx: get("/a/b/edit"), expect: { allow: true, policy: "foo/p0" } },

  // ---- when ----
  { name: "when request.headers values", policies: [{ spec: { rules: [{ when: [{ key: "request.headers[X-Token]", values: ["admin"] }] }] } }], ctx: get("/", { headers: { "x-token": "admin" } }), expect: { allow: true, policy: "foo/p0" } },
  { name: "when request.headers missing", policies: [{ spec: { rules: [{ when: [{ key: "request.headers[x-token]", values: ["admin"] }] }] } }], ctx: get("/"), expect: { allow: false } },
  { name: "when request.headers * means present (even empty)", policies: [{ spec: { rules: [{ when: [{ key: "request.headers[x-token]", values: ["*"] }] }] } }], ctx: get("/", { headers: { "x-token": "" } }), expect: { allow: true, policy: "foo/p0" } },
  { name: "when request.headers notValues (authz-deny example)", policies: [{ name: "deny-method-get", spec: { action: "DENY", rules: [{ to: [{ operation: { methods: ["GET"] } }], when: [{ key: "request.headers[x-token]", notValues: ["admin"] }] }] } }], ctx: get("/get", { headers: { "x-token": "guest" } }), expect: { allow: false, policy: "foo/deny-method-get" } },
  { name: "when request.headers notValues lets admin through", policies: [{ name: "deny-method-get", spec: { action: "DENY", rules: [{ to: [{ operation: { methods: ["GET"] } }], when: [{ key: "request.headers[x-token]", notValues: ["admin"] }] }] } }], ctx: get("/get", { headers: { "x-token": "admin" } }), expect: { allow: true } },
  { name: "when request.headers[:authority] and host read the request authority", policies: [{ spec: { rules: [{ when: [{ key: "request.headers[:authority]", values: ["httpbin.foo:*"] }, { key: "request.headers[Host]", values: ["httpbin*"] }] }] } }], ctx: get("/"), expect: { allow: true, policy: "foo/p0" } },
  { name: "when request.headers[:method] and [:path]", policies: [{ spec: { rules: [{ when: [{ key: "request.headers[:method]", values: ["GET"] }, { key: "request.headers[:path]", values: ["/ip?*"] }] }] } }], ctx: get("/ip?x=1"), expect: { allow: true, policy: "foo/p0" } },
  { name: "when source.ip", policies: [{ spec: { rules: [{ when: [{ key: "source.ip", values: ["10.0.0.0/16"] }] }] } }], ctx: get("/"), expect: { allow: true, policy: "foo/p0" } },
  { name: "when remote.ip", policies: [{ spec: { rules: [{ when: [{ key: "remote.ip", values: ["2001:db8::/64"] }] }] } }], ctx: { source: { ip: "10.0.0.5", remoteIp: "2001:db8::7" }, request: {} }, expect: { allow: true, policy: "foo/p0" } },
  { name: "when source.namespace", policies: [{ spec: { rules: [{ when: [{ key: "source.namespace", values: ["default"] }] }] } }], ctx: get("/"), expect: { allow: true, policy: "foo/p0" } },
  { name: "when source.principal", policies: [{ spec: { rules: [{ when: [{ key: "source.principal", notValues: [SLEEP] }] }] } }], ctx: get("/"), expect: { allow: false } },
  { name: "when request.auth.principal", policies: [{ spec: { rules: [{ when: [{ key: "request.auth.principal", values: ["iss.example/alice"] }] }] } }], ctx: get("/", { auth: { principal: "iss.example/alice" } }), expect: { allow: true, policy: "foo/p0" } },
  { name: "when request.auth.audiences (list)", policies: [{ spec: { rules: [{ when: [{ key: "request.auth.audiences", values: ["api"] }] }] } }], ctx: get("/", { auth: { principal: "i/s", audiences: ["web", "api"] } }), expect: { allow: true, policy: "foo/p0" } },
  { name: "when request.auth.presenter", policies: [{ spec: { rules: [{ when: [{ key: "request.auth.presenter", values: ["cli*"] }] }] } }], ctx: get("/", { auth: { principal: "i/s", presenter: "client-1" } }), expect: { allow: true, policy: "foo/p0" } },
  { name: "when request.auth.claims[groups] list claim (authz-jwt example)", policies: [{ spec: { rules: [{ from: [{ source: { requestPrincipals: ["testing@secure.istio.io/testing@secure.istio.io"] } }], when: [{ key: "request.auth.claims[groups]", values: ["group1"] }] }] } }], ctx: get("/", { auth: { principal: "testing@secure.istio.io/testing@secure.istio.io", claims: { iss: "testing@secure.istio.io", sub: "testing@secure.istio.io", groups: ["group1", "group2"] } } }), expect: { allow: true, policy: "foo/p0" } },
  { name: "when request.auth.claims[groups] missing group", policies: [{ spec: { rules: [{ when: [{ key: "request.auth.claims[groups]", values: ["group9"] }] }] } }], ctx: get("/", { auth: { principal: "i/s", claims: { groups: ["group1"] } } }), expect: { allow: false } },
  { name: "when nested claim [realm][role]", policies: [{ spec: { rules: [{ when: [{ key: "request.auth.claims[realm][role]", values: ["admin"] }] }] } }], ctx: get("/", { auth: { principal: "i/s", claims: { realm: { role: "admin" } } } }), expect: { allow: true, policy: "foo/p0" } },
  { name: "when claim that is not a string never matches", policies: [{ spec: { rules: [{ when: [{ key: "request.auth.claims[admin]", values: ["true"] }] }] } }], ctx: get("/", { auth: { principal: "i/s", claims: { admin: true } } }), expect: { allow: false } },
  { name: "when destination.ip", policies: [{ spec: { rules: [{ when: [{ key: "destination.ip", values: ["10.9.0.0/16"] }] }] } }], ctx: { source: {}, request: {}, destination: { ip: "10.9.1.1", port: 8000 } }, expect: { allow: true, policy: "foo/p0" } },
  { name: "when destination.port", policies: [{ spec: { rules: [{ when: [{ key: "destination.port", values: ["8000"] }] }] } }], ctx: get("/"), expect: { allow: true, policy: "foo/p0" } },
  { name: "when connection.sni", policies: [{ spec: { rules: [{ when: [{ key: "connection.sni", values: ["*.example.com"] }] }] } }], ctx: { source: {}, request: null, destination: { port: 443 }, connection: { sni: "a.example.com" } }, expect: { allow: true, policy: "foo/p0" } },
  { name: "when experimental.envoy.filters.* refused: ALLOW rule never matches", policies: [{ spec: { rules: [{ when: [{ key: "experimental.envoy.filters.network.mysql_proxy[db.table]", values: ["[update]"] }] }] } }], ctx: get("/"), expect: { allow: false, problems: 1 } },
  { name: "when experimental.envoy.filters.* refused: DENY condition dropped (denies more)", policies: [{ spec: { action: "DENY", rules: [{ to: [{ operation: { ports: ["8000"] } }], when: [{ key: "experimental.envoy.filters.network.mysql_proxy[db.table]", values: ["[update]"] }] }] } }], ctx: get("/"), expect: { allow: false, policy: "foo/p0", problems: 1 } },
  { name: "from entries are ORed, fields ANDed", policies: [{ spec: { rules: [{ from: [{ source: { principals: ["x/y"] } }, { source: { namespaces: ["default"], ipBlocks: ["10.0.0.0/8"] } }] }] } }], ctx: get("/"), expect: { allow: true, policy: "foo/p0" } },
  { name: "fields in one source are ANDed", policies: [{ spec: { rules: [{ from: [{ source: { namespaces: ["default"], ipBlocks: ["192.168.0.0/16"] } }] }] } }], ctx: get("/"), expect: { allow: false } },
  { name: "from and to are ANDed", policies: [{ spec: { rules: [{ from: [{ source: { namespaces: ["default"] } }], to: [{ operation: { methods: ["POST"] } }] }] } }], ctx: get("/"), expect: { allow: false } },

  // ---- the AuthorizationPolicy reference example (istio/api authorization_policy.proto) ----
  ...((): AuthzCase[] => {
    const reference: PolicyInput = {
      name: "httpbin",
      spec: {
        action: "ALLOW",
        rules: [
          {
            from: [{ source: { principals: ["cluster.local/ns/default/sa/sleep"] } }, { source: { namespaces: ["test"] } }],
            to: [{ operation: { methods: ["GET"], paths: ["/info*"] } }, { operation: { methods: ["POST"], paths: ["/data"] } }],
            when: [{ key: "request.auth.claims[iss]", values: ["https://accounts.google.com"] }],
          },
        ],
      },
    };
    const google = { principal: "https://accounts.google.com/u1", claims: { iss: "https://accounts.google.com", sub: "u1" } };
    const TEST = "spiffe://cluster.local/ns/test/sa/anyone";
    return [
      { name: "reference example: sleep GET /info with a Google token", policies: [reference], ctx: get("/info/x", { auth: google }), expect: { allow: true, policy: "foo/httpbin" } },
      { name: "reference example: namespace test POST /data", policies: [reference], ctx: { source: { principal: TEST }, request: { method: "POST", path: "/data", auth: google } }, expect: { allow: true, policy: "foo/httpbin" } },
      { name: "reference example: POST /info is not listed", policies: [reference], ctx: get("/info", { method: "POST", auth: google }), expect: { allow: false } },
      { name: "reference example: no token, no match", policies: [reference], ctx: get("/info"), expect: { allow: false } },
      { name: "reference example: other namespace", policies: [reference], ctx: { source: { principal: DEV }, request: { path: "/info", auth: google } }, expect: { allow: false } },
    ];
  })(),
  { name: "reference DENY example: dev namespace POST", policies: [{ spec: { action: "DENY", rules: [{ from: [{ source: { namespaces: ["dev"] } }], to: [{ operation: { methods: ["POST"] } }] }] } }], ctx: { source: { principal: DEV }, request: { method: "POST" } }, expect: { allow: false, policy: "foo/p0" } },

  // ---- AUDIT ----
  { name: "AUDIT marks and does not decide", policies: [{ name: "audit", spec: { action: "AUDIT", rules: [{ to: [{ operation: { methods: ["GET"] } }] }] } }], ctx: get("/"), expect: { allow: true, audit: true } },
  { name: "AUDIT marks denied requests too", policies: [{ name: "audit", spec: { action: "AUDIT", rules: [{}] } }, { spec: {} }], ctx: get("/"), expect: { allow: false, audit: true } },
  { name: "AUDIT not matching", policies: [{ name: "audit", spec: { action: "AUDIT", rules: [{ to: [{ operation: { methods: ["POST"] } }] }] } }], ctx: get("/"), expect: { allow: true, audit: false } },

  // ---- CUSTOM ----
  { name: "CUSTOM refused: requests matching its rules are denied", policies: [{ name: "ext-authz", spec: { action: "CUSTOM", provider: { name: "my-custom-authz" }, rules: [{ to: [{ operation: { paths: ["/admin/*"] } }] }] } }], ctx: get("/admin/x"), expect: { allow: false, policy: "foo/ext-authz", problems: 1 } },
  { name: "CUSTOM refused: other requests go on to DENY/ALLOW", policies: [{ name: "ext-authz", spec: { action: "CUSTOM", provider: { name: "my-custom-authz" }, rules: [{ to: [{ operation: { paths: ["/admin/*"] } }] }] } }], ctx: get("/public"), expect: { allow: true, problems: 1 } },

  // ---- TCP (no request) ----
  { name: "TCP: ALLOW with an HTTP-only field never matches", policies: [{ name: "viewer", spec: { rules: [{ to: [{ operation: { methods: ["GET"] } }] }] } }], ctx: tcp(), expect: { allow: false } },
  { name: "TCP: ALLOW rule dropped whole even if another from entry is fine", policies: [{ spec: { rules: [{ from: [{ source: { requestPrincipals: ["*"] } }, { source: { principals: [SLEEP] } }] }] } }], ctx: tcp(), expect: { allow: false } },
  { name: "TCP: ALLOW with ports and principals works", policies: [{ spec: { rules: [{ from: [{ source: { principals: [SLEEP] } }], to: [{ operation: { ports: ["8000"] } }] }] } }], ctx: tcp(), expect: { allow: true, policy: "foo/p0" } },
  { name: "TCP: DENY methods+port denies all TCP on that port (Istio doc)", policies: [{ spec: { action: "DENY", rules: [{ to: [{ operation: { methods: ["POST"], ports: ["8080"] } }] }] } }], ctx: tcp(8080), expect: { allow: false, policy: "foo/p0" } },
  { name: "TCP: DENY methods+port leaves other ports", policies: [{ spec: { action: "DENY", rules: [{ to: [{ operation: { methods: ["POST"], ports: ["8080"] } }] }] } }], ctx: tcp(9090), expect: { allow: true } },
  { name: "TCP: DENY methods only denies all TCP", policies: [{ spec: { action: "DENY", rules: [{ to: [{ operation: { methods: ["POST"] } }] }] } }], ctx: tcp(9090), expect: { allow: false, policy: "foo/p0" } },
  { name: "TCP: DENY notRequestPrincipals * denies TCP", policies: [{ spec: { action: "DENY", rules: [{ from: [{ source: { notRequestPrincipals: ["*"] } }] }] } }], ctx: tcp(), expect: { allow: false, policy: "foo/p0" } },
  { name: "TCP: DENY header condition dropped", policies: [{ spec: { action: "DENY", rules: [{ from: [{ source: { namespaces: ["dev"] } }], when: [{ key: "request.headers[x]", values: ["y"] }] }] } }], ctx: tcp(8000, { principal: DEV }), expect: { allow: false, policy: "foo/p0" } },
  { name: "TCP: DENY keeps its non-HTTP fields", policies: [{ spec: { action: "DENY", rules: [{ from: [{ source: { namespaces: ["dev"] } }], when: [{ key: "request.headers[x]", values: ["y"] }] }] } }], ctx: tcp(), expect: { allow: true } },
  { name: "TCP: AUDIT widened the same way", policies: [{ spec: { action: "AUDIT", rules: [{ to: [{ operation: { paths: ["/x"] } }] }] } }], ctx: tcp(), expect: { allow: true, audit: true } },
  { name: "TCP: CUSTOM refused widens like DENY", policies: [{ name: "ext", spec: { action: "CUSTOM", provider: { name: "x" }, rules: [{ to: [{ operation: { paths: ["/admin/*"] } }] }] } }], ctx: tcp(), expect: { allow: false, policy: "foo/ext", problems: 1 } },

  // ---- malformed (fail closed) ----
  { name: "malformed: unknown when key in ALLOW never matches", policies: [{ raw: true, spec: { rules: [{ when: [{ key: "destination.labels[app]", values: ["x"] }] }] } }], ctx: get("/"), expect: { allow: false, problems: 1 } },
  { name: "malformed: unknown when key in DENY denies everything", policies: [{ raw: true, spec: { action: "DENY", rules: [{ when: [{ key: "destination.labels[app]", values: ["x"] }] }] } }], ctx: get("/"), expect: { allow: false, policy: "foo/p0", problems: 1 } },
  { name: "malformed: bad CIDR in ALLOW drops the rule", policies: [{ raw: true, spec: { rules: [{ from: [{ source: { ipBlocks: ["10.0.0.0/33"] } }] }] } }], ctx: get("/"), expect: { allow: false, problems: 1 } },
  { name: "malformed: bad CIDR in DENY is ignored (denies more)", policies: [{ raw: true, spec: { action: "DENY", rules: [{ from: [{ source: { ipBlocks: ["nonsense"] } }] }] } }], ctx: get("/"), expect: { allow: false, policy: "foo/p0", problems: 1 } },
  { name: "malformed: unknown action denies everything", policies: [{ raw: true, spec: { action: "MAYBE", rules: [{ to: [{ operation: { paths: ["/x"] } }] }] } }], ctx: get("/"), expect: { allow: false, policy: "foo/p0", problems: 1 } },
  { name: "malformed: a DENY rule of the wrong shape denies everything", policies: [{ raw: true, spec: { action: "DENY", rules: [{ from: "everyone" }] } }], ctx: get("/"), expect: { allow: false, policy: "foo/p0", problems: 1 } },
  { name: "malformed: an ALLOW rule of the wrong shape never matches", policies: [{ raw: true, spec: { rules: [{ to: { operation: {} } }] } }], ctx: get("/"), expect: { allow: false, problems: 1 } },
  { name: "malformed: DENY without rules denies everything", policies: [{ raw: true, spec: { action: "DENY" } }], ctx: get("/"), expect: { allow: false, policy: "foo/p0", problems: 1 } },
];
