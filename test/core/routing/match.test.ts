/**
 * Request matching: every HTTPMatchRequest field, OR across entries, AND
 * within one, first match wins, through real compiled snapshots.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { compileGatewayRoutes, lookupRoute, type RequestFacts } from "../../../src/core/routing/index.ts";
import { compileSnapshots } from "../../../src/core/snapshot/compile-snapshots.ts";
import { docs, GATEWAY, gatewayTable, gatewayVs, req, resourcesUnchecked, service } from "./fixtures.ts";

const ROUTES = `  - name: exact
    match: [{uri: {exact: /exact}}]
    route: [{destination: {host: web}}]
  - name: nocase
    match: [{uri: {exact: /Mixed/Case}, ignoreUriCase: true}, {uri: {prefix: /UPPER}, ignoreUriCase: true}]
    route: [{destination: {host: web}}]
  - name: regex
    match: [{uri: {regex: "/items/[0-9]+"}}]
    route: [{destination: {host: web}}]
  - name: header-exact
    match: [{headers: {x-user: {exact: jason}}}]
    route: [{destination: {host: web}}]
  - name: header-prefix-and-method
    match: [{headers: {x-tier: {prefix: gold}}, method: {exact: POST}}]
    route: [{destination: {host: web}}]
  - name: header-regex
    match: [{headers: {x-version: {regex: "v[0-9]+\\\\.[0-9]+"}}}]
    route: [{destination: {host: web}}]
  - name: header-present
    match: [{headers: {x-debug: {}}}]
    route: [{destination: {host: web}}]
  - name: query
    match: [{queryParams: {mode: {exact: fast}}}, {queryParams: {v: {regex: "[0-9]+"}}}]
    route: [{destination: {host: web}}]
  - name: scheme-authority
    match: [{scheme: {exact: https}, authority: {prefix: secure.}}]
    route: [{destination: {host: web}}]
  - name: port
    match: [{port: 8080}]
    route: [{destination: {host: web}}]
  - name: claims
    match: [{headers: {"@request.auth.claims.group": {exact: admins}}}]
    route: [{destination: {host: web}}]
  - name: nested-claim
    match: [{headers: {"@request.auth.claims.org.team": {prefix: core}}}]
    route: [{destination: {host: web}}]
  - name: without
    match: [{uri: {prefix: /without}, withoutHeaders: {x-user: {exact: jason}}}]
    route: [{destination: {host: web}}]
  - name: api-v1
    match: [{uri: {prefix: /api/v1}}]
    route: [{destination: {host: web}}]
  - name: api
    match: [{uri: {prefix: /api}}]
    route: [{destination: {host: web}}]
  - name: fallback
    route: [{destination: {host: web}}]
`;

const table = gatewayTable(docs(GATEWAY, gatewayVs(ROUTES, "shop", ["shop.example.com", "secure.example.com"]), service("web", "shop")));

function routeName(facts: RequestFacts): string {
  const r = lookupRoute(table, facts);
  return r.kind === "route" ? (r.route.ref.name ?? `#${r.source.index}`) : r.kind;
}

const cases: [string, RequestFacts, string][] = [
  ["uri exact", req({ path: "/exact" }), "exact"],
  ["uri exact ignores the query string", req({ path: "/exact?x=1" }), "exact"],
  ["uri exact is not a prefix", req({ path: "/exactly" }), "fallback"],
  ["uri exact is case-sensitive", req({ path: "/EXACT" }), "fallback"],
  ["ignoreUriCase exact", req({ path: "/mixed/CASE" }), "nocase"],
  ["ignoreUriCase prefix", req({ path: "/upper/rest" }), "nocase"],
  ["uri regex matches the whole path", req({ path: "/items/42" }), "regex"],
  ["uri regex is anchored at the end", req({ path: "/items/42/x" }), "fallback"],
  ["uri regex is anchored at the start", req({ path: "/x/items/42" }), "fallback"],
  ["uri regex ignores the query string", req({ path: "/items/7?a=b" }), "regex"],
  ["header exact", req({ headers: { "X-User": "jason" } }), "header-exact"],
  ["header exact mismatch", req({ headers: { "x-user": "jasonx" } }), "fallback"],
  ["header prefix AND method: both", req({ method: "POST", headers: { "x-tier": "gold-plus" } }), "header-prefix-and-method"],
  ["header prefix AND method: method missing", req({ headers: { "x-tier": "gold-plus" } }), "fallback"],
  ["header regex whole value", req({ headers: { "x-version": "v1.2" } }), "header-regex"],
  ["header regex partial value does not match", req({ headers: { "x-version": "v1.2-beta" } }), "fallback"],
  ["header presence", req({ headers: { "x-debug": "" } }), "header-present"],
  ["query exact", req({ path: "/?mode=fast" }), "query"],
  ["query exact, percent-decoded", req({ path: "/?mode=f%61st" }), "query"],
  ["query regex (second entry ORed)", req({ path: "/?v=12" }), "query"],
  ["query regex mismatch", req({ path: "/?v=1a" }), "fallback"],
  ["scheme AND authority", req({ scheme: "https", authority: "secure.example.com", port: 80 }), "scheme-authority"],
  ["scheme wrong", req({ scheme: "http", authority: "secure.example.com" }), "fallback"],
  ["port (a port that is no server port falls back to the scheme's servers)", req({ port: 8080 }), "port"],
  ["claim exact", req({ claims: { group: "admins" } }), "claims"],
  ["list claim: any element matches", req({ claims: { group: ["users", "admins"] } }), "claims"],
  ["a header named like a claim never satisfies a claim match", req({ headers: { "@request.auth.claims.group": "admins" } }), "fallback"],
  ["nested claim", req({ claims: { org: { team: "core-infra" } } }), "nested-claim"],
  ["withoutHeaders: header absent", req({ path: "/without" }), "without"],
  ["withoutHeaders: other value", req({ path: "/without", headers: { "x-user": "bob" } }), "without"],
  ["withoutHeaders: excluded value", req({ path: "/without", headers: { "x-user": "jason" } }), "header-exact"],
  ["first match wins: /api/v1 before /api", req({ path: "/api/v1/users" }), "api-v1"],
  ["prefix is a plain string prefix", req({ path: "/apix" }), "api"],
  ["route without match takes the rest", req({ path: "/anything" }), "fallback"],
];

for (const [name, facts, expected] of cases) {
  test(`match: ${name}`, () => assert.equal(routeName(facts), expected));
}

test("match: the port entry applies on a listener of that port only", () => {
  const t = gatewayTable(
    docs(
      `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: ingress}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*.example.com"]
  - port: {number: 8080, name: http-alt, protocol: HTTP}
    hosts: ["*.example.com"]
`,
      gatewayVs(`  - name: alt
    match: [{port: 8080}]
    route: [{destination: {host: web}}]
  - name: rest
    route: [{destination: {host: web}}]
`),
      service("web", "shop"),
    ),
  );
  const name = (f: RequestFacts) => {
    const r = lookupRoute(t, f);
    return r.kind === "route" ? r.route.ref.name : r.kind;
  };
  assert.equal(name(req({ port: 8080 })), "alt");
  assert.equal(name(req({ port: 80 })), "rest");
});

test("match: a regex RE2 refuses is reported and only that entry is dropped", () => {
  // RE2 caps repeat counts at 1000; JavaScript does not. The config validator refuses it too; the
  // routing compiler must not depend on that (snapshots may come from older control planes), so the VS skips validation here.
  const routes = `  - name: bad
    match: [{uri: {regex: "/a{1001}"}}, {uri: {exact: /still}}]
    route: [{destination: {host: web}}]
  - name: rest
    route: [{destination: {host: web}}]
`;
  const t = compileGatewayRoutes(compileSnapshots({ resources: resourcesUnchecked(docs(GATEWAY, gatewayVs(routes), service("web", "shop")), [1]), trustDomain: "strait.local" }).gateway);
  assert.equal(t.issues.length, 1);
  assert.match(t.issues[0]!.field, /spec\.http\[0\]\.match\[0\]\.uri/);
  assert.equal(t.issues[0]!.resource, "VirtualService/shop/shop");
  const r = lookupRoute(t, req({ path: "/still" }));
  assert.equal(r.kind === "route" ? r.route.ref.name : r.kind, "bad");
  const a = lookupRoute(t, req({ path: "/" + "a".repeat(1001) }));
  assert.equal(a.kind === "route" ? a.route.ref.name : a.kind, "rest");
  assert.match(t.issues[0]!.message, /repeat count/);
});

test("match: a ReDoS pattern stays linear (RE2): (a+)+$ against 'a'*50000+'b'", () => {
  const t = gatewayTable(
    docs(
      GATEWAY,
      gatewayVs(`  - name: redos
    match: [{headers: {x-evil: {regex: "(a+)+$"}}}, {uri: {regex: "/(a+)+$"}}]
    route: [{destination: {host: web}}]
  - name: rest
    route: [{destination: {host: web}}]
`),
      service("web", "shop"),
    ),
  );
  const evil = "a".repeat(50_000) + "b";
  const name = (f: RequestFacts) => {
    const r = lookupRoute(t, f);
    return r.kind === "route" ? r.route.ref.name : r.kind;
  };
  assert.equal(name(req({ headers: { "x-evil": evil } })), "rest");
  assert.equal(name(req({ path: `/${evil}` })), "rest");
  assert.equal(name(req({ headers: { "x-evil": "a".repeat(50_000) } })), "redos");
});

test("match: an exact route after a prefix that covers it loses to the prefix (first match wins, static shortcut or not)", () => {
  const t = gatewayTable(
    docs(
      GATEWAY,
      gatewayVs(`  - name: wide
    match: [{uri: {prefix: /exa}}]
    route: [{destination: {host: web}}]
  - name: narrow
    match: [{uri: {exact: /exact}}, {uri: {exact: /other}}]
    route: [{destination: {host: web}}]
  - name: nocase
    match: [{uri: {exact: /OTHER2}, ignoreUriCase: true}]
    route: [{destination: {host: web}}]
  - name: late
    match: [{uri: {exact: /other2}}]
    route: [{destination: {host: web}}]
  - name: conditional
    match: [{uri: {exact: /cond}, headers: {x-a: {exact: "1"}}}]
    route: [{destination: {host: web}}]
  - name: regex
    match: [{uri: {regex: "/co.*"}}]
    route: [{destination: {host: web}}]
  - name: after-regex
    match: [{uri: {exact: /cond2}}]
    route: [{destination: {host: web}}]
`),
      service("web", "shop"),
    ),
  );
  const name = (f: RequestFacts) => {
    const r = lookupRoute(t, f);
    return r.kind === "route" ? r.route.ref.name : r.kind;
  };
  assert.equal(name(req({ path: "/exact" })), "wide");
  assert.equal(name(req({ path: "/other" })), "narrow");
  assert.equal(name(req({ path: "/other?x" })), "narrow");
  assert.equal(name(req({ path: "/other2" })), "nocase", "an earlier case-insensitive exact entry wins");
  assert.equal(name(req({ path: "/cond" })), "regex", "a conditional exact entry falls through when its header is absent");
  assert.equal(name(req({ path: "/cond", headers: { "x-a": "1" } })), "conditional");
  assert.equal(name(req({ path: "/cond2" })), "regex", "an earlier regex entry that matches wins");
});
