/**
 * Gateway route tables: server hosts and VirtualService hosts with
 * wildcards, the Host port ignored, `gateways` binding, `httpsRedirect`,
 * 404 NR for an unknown host or an unmatched route.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { compileGatewayRoutes, lookupRoute, planRequest, type RequestFacts, type RouteTable } from "../../../src/core/routing/index.ts";
import { docs, GATEWAY, gatewaySnapshot, gatewayTable, gatewayVs, req, service } from "./fixtures.ts";

function outcome(t: RouteTable, f: RequestFacts): string {
  const r = lookupRoute(t, f);
  if (r.kind === "route") return `${r.source.name}:${r.route.ref.name ?? r.source.index}`;
  if (r.kind === "https-redirect") return `redirect ${r.location}`;
  return "NR";
}

const TWO_SERVERS = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: ingress}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*.example.com", "exact.test"]
    tls: {httpsRedirect: true}
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["*.example.com", "exact.test"]
    tls: {mode: SIMPLE, credentialName: shop-cert}
`;

test("gateway: wildcard server host, exact VS host, Host port ignored", () => {
  const t = gatewayTable(docs(GATEWAY, gatewayVs("  - route: [{destination: {host: web}}]\n"), service("web", "shop")));
  assert.equal(outcome(t, req({ authority: "shop.example.com" })), "shop:0");
  assert.equal(outcome(t, req({ authority: "SHOP.example.com:12345" })), "shop:0");
  assert.equal(outcome(t, req({ authority: "other.example.com" })), "NR", "no VS for this host");
  assert.equal(outcome(t, req({ authority: "example.com" })), "NR", "*.example.com does not match example.com");
});

test("gateway: a VS with a wildcard host binds on the server; exact VS hosts beat wildcard ones", () => {
  const t = gatewayTable(
    docs(
      GATEWAY,
      gatewayVs("  - name: wild\n    route: [{destination: {host: web}}]\n", "wild", ["*.example.com"], "2024-01-01T00:00:00Z"),
      gatewayVs("  - name: exact\n    route: [{destination: {host: web}}]\n", "exact", ["api.example.com"], "2024-02-01T00:00:00Z"),
      service("web", "shop"),
    ),
  );
  assert.equal(outcome(t, req({ authority: "api.example.com:8443" })), "exact:exact");
  assert.equal(outcome(t, req({ authority: "a.b.example.com" })), "wild:wild");
  assert.equal(outcome(t, req({ authority: "example.org" })), "NR");
});

test("gateway: a VS not bound to the Gateway (gateways: [mesh]) is not on the gateway", () => {
  const mesh = gatewayVs("  - route: [{destination: {host: web}}]\n").replace("gateways: [ingress/edge]", "gateways: [mesh]");
  const t = gatewayTable(docs(GATEWAY, mesh, service("web", "shop")));
  assert.equal(outcome(t, req()), "NR");
  const plan = planRequest(t, req());
  assert.deepEqual({ kind: plan.kind, status: plan.kind === "no-route" ? plan.status : 0, flag: plan.kind === "no-route" ? plan.flag : "" }, { kind: "no-route", status: 404, flag: "NR" });
});

test("gateway: per-match gateways keep only the entries bound here", () => {
  const vs = gatewayVs(`  - name: split
    match: [{uri: {prefix: /edge}, gateways: [ingress/edge]}, {uri: {prefix: /mesh}, gateways: [mesh]}]
    route: [{destination: {host: web}}]
`).replace("gateways: [ingress/edge]\n  http", "gateways: [ingress/edge, mesh]\n  http");
  const t = gatewayTable(docs(GATEWAY, vs, service("web", "shop")));
  assert.equal(outcome(t, req({ path: "/edge/x" })), "shop:split");
  assert.equal(outcome(t, req({ path: "/mesh/x" })), "NR");
});

test("gateway: a host with no matching route is 404 NR", () => {
  const t = gatewayTable(docs(GATEWAY, gatewayVs("  - match: [{uri: {prefix: /only}}]\n    route: [{destination: {host: web}}]\n"), service("web", "shop")));
  const plan = planRequest(t, req({ path: "/other" }));
  assert.equal(plan.kind, "no-route");
});

test("gateway: httpsRedirect answers 301 even with no VS bound, and wins over a bound route; HTTPS listener routes", () => {
  const t = gatewayTable(docs(TWO_SERVERS, gatewayVs("  - route: [{destination: {host: web}}]\n"), service("web", "shop")));
  assert.equal(outcome(t, req({ authority: "nothing-bound.example.com", path: "/a?b=1" })), "redirect https://nothing-bound.example.com/a?b=1");
  assert.equal(outcome(t, req({ authority: "shop.example.com:80", path: "/x" })), "redirect https://shop.example.com/x", "the default http port is dropped");
  assert.equal(outcome(t, req({ authority: "exact.test:8080", path: "/" })), "redirect https://exact.test:8080/");
  const plan = planRequest(t, req({ path: "/y" }));
  assert.deepEqual(plan.kind === "redirect" ? [plan.status, plan.location] : plan.kind, [301, "https://shop.example.com/y"]);
  assert.equal(outcome(t, req({ scheme: "https", port: 443 })), "shop:0");
  assert.equal(outcome(t, req({ authority: "not.test" })), "NR", "hosts outside the server's get no redirect");
});

test("gateway: a port that is not a server port falls back to the servers of the request's scheme", () => {
  const t = gatewayTable(docs(TWO_SERVERS, gatewayVs("  - route: [{destination: {host: web}}]\n"), service("web", "shop")));
  assert.equal(outcome(t, req({ port: 8788 })), "redirect https://shop.example.com/");
  assert.equal(outcome(t, req({ scheme: "https", port: 8443 })), "shop:0");
});

test("gateway: a Gateway host with a namespace prefix admits only that namespace's VirtualServices", () => {
  const gw = GATEWAY.replace('hosts: ["*.example.com"]', 'hosts: ["other/*.example.com"]');
  const t = gatewayTable(docs(gw, gatewayVs("  - route: [{destination: {host: web}}]\n"), service("web", "shop")));
  assert.equal(outcome(t, req()), "NR");
});

test("gateway: VirtualServices for one host merge oldest first with catch-alls last", () => {
  const t = gatewayTable(
    docs(
      GATEWAY,
      gatewayVs("  - name: old-catch-all\n    route: [{destination: {host: web}}]\n", "older", ["shop.example.com"], "2024-01-01T00:00:00Z"),
      gatewayVs("  - name: new-api\n    match: [{uri: {prefix: /api}}]\n    route: [{destination: {host: web}}]\n", "newer", ["shop.example.com"], "2024-02-01T00:00:00Z"),
      service("web", "shop"),
    ),
  );
  assert.equal(outcome(t, req({ path: "/api/1" })), "newer:new-api");
  assert.equal(outcome(t, req({ path: "/" })), "older:old-catch-all");
});

test("gateway: TLS passthrough and TCP servers carry no HTTP routes", () => {
  const gw = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: ingress}
spec:
  servers:
  - port: {number: 443, name: tls, protocol: TLS}
    hosts: ["*.example.com"]
    tls: {mode: PASSTHROUGH}
`;
  const t = gatewayTable(docs(gw, gatewayVs("  - route: [{destination: {host: web}}]\n"), service("web", "shop")));
  assert.equal(outcome(t, req({ scheme: "https", port: 443 })), "NR");
});

test("gateway: the Host and listener memos never change an answer (one shared table vs a fresh table per request)", () => {
  const yaml = docs(
    TWO_SERVERS,
    `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: alt, namespace: ingress}
spec:
  servers:
  - port: {number: 8080, name: http-alt, protocol: HTTP}
    hosts: ["api.example.com"]
`,
    gatewayVs("  - name: wild\n    match: [{uri: {prefix: /w}}]\n    route: [{destination: {host: web}}]\n", "wild", ["*.example.com"], "2024-01-01T00:00:00Z").replace("[ingress/edge]", "[ingress/edge, ingress/alt]"),
    gatewayVs("  - name: api\n    match: [{uri: {exact: /a}}]\n    route: [{destination: {host: web}}]\n", "api", ["api.example.com"], "2024-02-01T00:00:00Z").replace("[ingress/edge]", "[ingress/edge, ingress/alt]"),
    gatewayVs("  - name: ex\n    route: [{destination: {host: web}}]\n", "ex", ["exact.test"], "2024-03-01T00:00:00Z"),
    service("web", "shop"),
  );
  const snapshot = gatewaySnapshot(yaml);
  const shared = compileGatewayRoutes(snapshot);
  const hosts = ["api.example.com", "API.example.com:8080", "x.example.com", "exact.test", "exact.test:443", "nope.org", "", "[::1]:80"];
  const paths = ["/a", "/a?x=1", "/w/1", "/", "/b"];
  const ports = [80, 443, 8080, 9999];
  const schemes = ["http", "https"] as const;
  // A walk over the combinations that changes one field per step (the case the one-entry caches must get right),
  // with a deterministic choice of field and value.
  let seed = 12345;
  const pick = (k: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % k;
  };
  let cur = { authority: hosts[0]!, path: paths[0]!, port: ports[0]!, scheme: schemes[0] as "http" | "https" };
  const seen = new Set<string>();
  for (let step = 0; step < 3000; step++) {
    const field = pick(4);
    if (field === 0) cur = { ...cur, authority: hosts[pick(hosts.length)]! };
    else if (field === 1) cur = { ...cur, path: paths[pick(paths.length)]! };
    else if (field === 2) cur = { ...cur, port: ports[pick(ports.length)]! };
    else cur = { ...cur, scheme: schemes[pick(2)]! };
    const f = req(cur);
    const want = outcome(compileGatewayRoutes(snapshot), f);
    assert.equal(outcome(shared, f), want, JSON.stringify(cur));
    seen.add(want);
  }
  // The walk reaches routes, redirects and 404s.
  assert.ok([...seen].some((o) => o.startsWith("redirect")) && seen.has("NR") && seen.size > 4, [...seen].join(", "));
});
