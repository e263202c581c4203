/**
 * Request plans from real compiled snapshots: weighted destinations,
 * subsets and DestinationRule policy, timeouts, retries, faults, mirrors,
 * rewrite, redirect, direct responses and header operations.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { applyHeaderOps, planRequest, type ForwardPlan, type RequestPlan } from "../../../src/core/routing/index.ts";
import { docs, GATEWAY, gatewayTable, gatewayVs, req, seeded, sequence, service } from "./fixtures.ts";

const REVIEWS = service("reviews", "shop", [
  { address: "10.0.0.1", labels: { version: "v1" } },
  { address: "10.0.0.2", labels: { version: "v2" } },
  { address: "10.0.0.3", labels: { version: "v2" } },
]);
const WEB = service("web", "shop");
const MIRROR = service("shadow", "shop", [{ address: "10.9.9.9" }]);

const DR = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: shop}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    connectionPool: {http: {http2MaxRequests: 100}}
    portLevelSettings:
    - port: {number: 9090}
      loadBalancer: {simple: RANDOM}
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      loadBalancer: {simple: LEAST_REQUEST}
`;

function plan(http: string, facts = req(), rng: () => number = sequence(0), extra: string[] = []): RequestPlan {
  return planRequest(gatewayTable(docs(GATEWAY, gatewayVs(http), REVIEWS, WEB, MIRROR, DR, ...extra)), facts, rng);
}

function forward(p: RequestPlan): ForwardPlan {
  assert.equal(p.kind, "forward", JSON.stringify(p));
  return p as ForwardPlan;
}

test("plan: weighted destinations follow the weights (90/10 over 10,000 seeded picks, within 1.5%)", () => {
  const table = gatewayTable(
    docs(
      GATEWAY,
      gatewayVs(`  - route:
    - destination: {host: reviews, subset: v1}
      weight: 90
    - destination: {host: reviews, subset: v2}
      weight: 10
`),
      REVIEWS,
      DR,
    ),
  );
  const rng = seeded(7);
  let v1 = 0;
  for (let i = 0; i < 10_000; i++) if (forward(planRequest(table, req(), rng)).destination.subset === "v1") v1++;
  assert.ok(Math.abs(v1 / 10_000 - 0.9) < 0.015, `v1 share ${v1 / 10_000}`);
  assert.equal(forward(planRequest(table, req(), sequence(0.899))).destination.subset, "v1");
  assert.equal(forward(planRequest(table, req(), sequence(0.9))).destination.subset, "v2");
});

test("plan: a zero weight is never picked", () => {
  const http = `  - route:
    - destination: {host: reviews, subset: v1}
      weight: 0
    - destination: {host: reviews, subset: v2}
      weight: 100
`;
  for (const r of [0, 0.5, 0.999]) assert.equal(forward(plan(http, req(), sequence(r))).destination.subset, "v2");
});

test("plan: subset endpoints and the DestinationRule policy (subset fields replace top-level ones)", () => {
  const p1 = forward(plan("  - route: [{destination: {host: reviews, subset: v1}}]\n"));
  assert.equal(p1.cluster.name, "outbound|8080|v1|reviews.shop.svc.cluster.local");
  assert.deepEqual(p1.cluster.endpoints.map((e) => e.address), ["10.0.0.1"]);
  assert.deepEqual(p1.cluster.trafficPolicy, { loadBalancer: { simple: "ROUND_ROBIN" }, connectionPool: { http: { http2MaxRequests: 100 } } });
  assert.deepEqual(p1.cluster.destinationRules, ["shop/reviews"]);
  const p2 = forward(plan("  - route: [{destination: {host: reviews, subset: v2}}]\n"));
  assert.deepEqual(p2.cluster.endpoints.map((e) => e.address), ["10.0.0.2", "10.0.0.3"]);
  assert.deepEqual(p2.cluster.trafficPolicy, { loadBalancer: { simple: "LEAST_REQUEST" }, connectionPool: { http: { http2MaxRequests: 100 } } });
});

test("plan: port-level settings replace the whole top-level policy for that port", () => {
  const ports = "[{number: 8080, name: http, protocol: HTTP}, {number: 9090, name: http-admin, protocol: HTTP}]";
  const svc = service("reviews", "shop", [{ address: "10.0.0.1", labels: { version: "v1" } }], ports);
  const t = gatewayTable(docs(GATEWAY, gatewayVs("  - route: [{destination: {host: reviews, port: {number: 9090}}}]\n"), svc, DR));
  const p = forward(planRequest(t, req()));
  assert.equal(p.cluster.port, 9090);
  assert.deepEqual(p.cluster.trafficPolicy, { loadBalancer: { simple: "RANDOM" } }, "connectionPool is not inherited by the port-level policy");
});

test("plan: a subset no DestinationRule defines, or an unknown host, is 503 NC", () => {
  const p = plan("  - route: [{destination: {host: reviews, subset: v9}}]\n");
  assert.equal(p.kind, "no-cluster");
  assert.deepEqual(p.kind === "no-cluster" ? [p.status, p.flag] : [], [503, "NC"]);
  assert.equal(plan("  - route: [{destination: {host: nowhere.example.net}}]\n").kind, "no-cluster");
});

test("plan: timeout (none by default) and retries (Istio's default when unset)", () => {
  assert.equal(forward(plan("  - timeout: 2.5s\n    route: [{destination: {host: web}}]\n")).timeoutMs, 2500);
  const d = forward(plan("  - route: [{destination: {host: web}}]\n"));
  assert.equal(d.timeoutMs, undefined);
  assert.deepEqual([d.retry.attempts, d.retry.retryOn.join(","), d.retry.retriableStatusCodes], [2, "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes", []]);
  const r = forward(plan("  - retries: {attempts: 3, perTryTimeout: 2s, retryOn: 'gateway-error,503,reset'}\n    route: [{destination: {host: web}}]\n"));
  assert.deepEqual([r.retry.attempts, r.retry.perTryTimeoutMs, r.retry.retryOn.join(","), r.retry.retriableStatusCodes], [3, 2000, "gateway-error,reset,retriable-status-codes", [503]]);
  assert.equal(forward(plan("  - retries: {attempts: 0}\n    route: [{destination: {host: web}}]\n")).retry.attempts, 0);
});

test("plan: fault delay and abort fire by percentage; no percentage means 0%", () => {
  const both = "  - fault: {delay: {fixedDelay: 5s, percentage: {value: 100}}, abort: {httpStatus: 418, percentage: {value: 50}}}\n    route: [{destination: {host: web}}]\n";
  assert.deepEqual(forward(plan(both, req(), sequence(0.2))).fault, { delayMs: 5000, abort: { status: 418 } });
  assert.deepEqual(forward(plan(both, req(), sequence(0.7))).fault, { delayMs: 5000 });
  const unset = "  - fault: {delay: {fixedDelay: 5s}, abort: {httpStatus: 500}}\n    route: [{destination: {host: web}}]\n";
  assert.equal(forward(plan(unset, req(), sequence(0))).fault, undefined);
  const grpc = "  - fault: {abort: {grpcStatus: UNAVAILABLE, percentage: {value: 100}}}\n    route: [{destination: {host: web}}]\n";
  assert.deepEqual(forward(plan(grpc)).fault, { abort: { grpcStatus: "UNAVAILABLE" } });
  const tiny = "  - fault: {abort: {httpStatus: 503, percentage: {value: 0.5}}}\n    route: [{destination: {host: web}}]\n";
  assert.deepEqual(forward(plan(tiny, req(), sequence(0.004))).fault, { abort: { status: 503 } });
  assert.equal(forward(plan(tiny, req(), sequence(0.006))).fault, undefined);
});

test("plan: mirror defaults to 100%, value 0 mirrors nothing, mirrors[] roll separately", () => {
  const m = forward(plan("  - mirror: {host: shadow}\n    route: [{destination: {host: web}}]\n"));
  assert.deepEqual(m.mirrors.map((x) => [x.cluster.name, x.percentage, x.authority]), [["outbound|8080||shadow.shop.svc.cluster.local", 100, "shop.example.com"]]);
  assert.deepEqual(forward(plan("  - mirror: {host: shadow}\n    mirrorPercentage: {value: 0}\n    route: [{destination: {host: web}}]\n")).mirrors, []);
  const many = "  - mirrors: [{destination: {host: shadow}, percentage: {value: 30}}, {destination: {host: reviews, subset: v1}}]\n    route: [{destination: {host: web}}]\n";
  assert.deepEqual(forward(plan(many, req(), sequence(0.5))).mirrors.map((x) => x.destination.host), ["reviews.shop.svc.cluster.local"]);
  assert.deepEqual(forward(plan(many, req(), sequence(0.1))).mirrors.map((x) => x.destination.host), ["shadow.shop.svc.cluster.local", "reviews.shop.svc.cluster.local"]);
});

const rewrites: [string, string, string, string][] = [
  ["prefix match: the matched prefix is replaced, query kept", "{uri: {prefix: /old}}", "/old/page?q=1", "/new/page?q=1"],
  ["exact match: the whole path is replaced, query kept", "{uri: {exact: /old}}", "/old?q=1", "/new?q=1"],
  ["regex match: the whole path is replaced", '{uri: {regex: "/o.d/.*"}}', "/old/x?y", "/new?y"],
  ["no uri condition: the leading / is replaced (Istio's /barfoo)", "{method: {exact: GET}}", "/foo", "/newfoo"],
  ["ignoreUriCase prefix: the matched length is replaced", "{uri: {prefix: /OLD}, ignoreUriCase: true}", "/old/a", "/new/a"],
];
for (const [name, match, path, expected] of rewrites) {
  test(`plan: rewrite.uri, ${name}`, () => {
    const p = forward(plan(`  - match: [${match}]\n    rewrite: {uri: /new}\n    route: [{destination: {host: web}}]\n`, req({ path })));
    assert.equal(p.upstreamRequest.path, expected);
  });
}

test("plan: uriRegexRewrite (RE2 groups \\1), authority rewrite", () => {
  const p = forward(
    plan(`  - rewrite:
      uriRegexRewrite: {match: "^/service/([^/]+)(/.*)$", rewrite: "\\\\2/instance/\\\\1"}
      authority: backend.internal
    route: [{destination: {host: web}}]
`, req({ path: "/service/foo/bar?x=1" })),
  );
  assert.equal(p.upstreamRequest.path, "/bar/instance/foo?x=1");
  assert.equal(p.upstreamRequest.authority, "backend.internal");
});

const redirects: [string, string, Parameters<typeof req>[0], string, number][] = [
  ["uri keeps the query string; default code 301", "{uri: /v2}", { path: "/v1?a=b" }, "http://shop.example.com/v2?a=b", 301],
  ["uri with its own query replaces it", "{uri: '/v2?x=1', redirectCode: 302}", { path: "/v1?a=b" }, "http://shop.example.com/v2?x=1", 302],
  ["authority and scheme", "{authority: new.example.com, scheme: https}", { path: "/p" }, "https://new.example.com/p", 301],
  ["port replaces the Host port", "{port: 8443}", { authority: "shop.example.com:8080", path: "/p" }, "http://shop.example.com:8443/p", 301],
  ["FROM_REQUEST_PORT, Host b on port 80", "{derivePort: FROM_REQUEST_PORT, uri: /foo}", { authority: "b", port: 80 }, "http://b/foo", 301],
  ["FROM_REQUEST_PORT, Host b:80", "{derivePort: FROM_REQUEST_PORT, uri: /foo}", { authority: "b:80", port: 80 }, "http://b:80/foo", 301],
  ["FROM_REQUEST_PORT on port 85", "{derivePort: FROM_REQUEST_PORT, uri: /foo}", { authority: "b", port: 85 }, "http://b:85/foo", 301],
  ["FROM_REQUEST_PORT never doubles a port", "{derivePort: FROM_REQUEST_PORT, uri: /foo}", { authority: "b:85", port: 85 }, "http://b:85/foo", 301],
  ["FROM_REQUEST_PORT with scheme https on port 80", "{derivePort: FROM_REQUEST_PORT, scheme: https, uri: /foo}", { authority: "b", port: 80 }, "https://b:80/foo", 301],
  ["FROM_PROTOCOL_DEFAULT drops the port", "{derivePort: FROM_PROTOCOL_DEFAULT, scheme: https}", { authority: "b:8080", path: "/x" }, "https://b/x", 301],
  ["scheme change drops the old default port", "{scheme: https}", { authority: "b:80", path: "/x" }, "https://b/x", 301],
];
for (const [name, redirect, facts, location, status] of redirects) {
  test(`plan: redirect, ${name}`, () => {
    const t = gatewayTable(docs(GATEWAY.replace('["*.example.com"]', '["*"]'), gatewayVs(`  - redirect: ${redirect}\n`, "shop", ["*"]), WEB));
    const p = planRequest(t, req(facts));
    assert.deepEqual(p.kind === "redirect" ? [p.status, p.location] : p, [status, location]);
  });
}

test("plan: directResponse with a string body and with base64 bytes", () => {
  const s = plan("  - directResponse: {status: 503, body: {string: unavailable}}\n");
  assert.deepEqual(s.kind === "direct-response" ? [s.status, s.body] : s, [503, "unavailable"]);
  const b = plan("  - directResponse: {status: 200, body: {bytes: aGVsbG8=}}\n");
  assert.ok(b.kind === "direct-response" && b.body instanceof Uint8Array);
  assert.equal(new TextDecoder().decode(b.kind === "direct-response" ? (b.body as Uint8Array) : undefined), "hello");
  const e = plan("  - directResponse: {status: 204}\n");
  assert.deepEqual(e.kind === "direct-response" ? [e.status, e.body] : e, [204, undefined]);
});

test("plan: header ops, route-level before destination-level; Host set is an authority rewrite, route-level wins", () => {
  const p = forward(
    plan(`  - headers:
      request:
        add: {x-trace: route}
        set: {Host: route.example.com, x-route: "1"}
        remove: [x-secret]
      response:
        set: {x-served-by: route}
    route:
    - destination: {host: web}
      headers:
        request:
          set: {x-trace: destination, ":authority": dest.example.com}
        response:
          add: {x-served-by: destination}
`),
  );
  assert.equal(p.upstreamRequest.authority, "route.example.com");
  const h = new Headers({ "x-secret": "s", "x-trace": "client" });
  applyHeaderOps(h, p.upstreamRequest.headerOps);
  const seen: [string, string][] = [];
  h.forEach((v, k) => seen.push([k, v]));
  assert.deepEqual(seen.sort(), [["x-route", "1"], ["x-trace", "destination"]]);
  const res = new Headers();
  applyHeaderOps(res, p.responseHeaderOps);
  assert.equal(res.get("x-served-by"), "route, destination");
  const d = forward(plan(`  - route:
    - destination: {host: web}
      headers: {request: {set: {host: dest.example.com}}}
`));
  assert.equal(d.upstreamRequest.authority, "dest.example.com");
});

test("plan: consistentHash inputs (header, query parameter, source IP) and a sticky cookie when absent with a ttl", () => {
  const dr = (hash: string) => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: shop}
spec:
  host: web
  trafficPolicy: {loadBalancer: {consistentHash: ${hash}}}
`;
  const route = "  - route: [{destination: {host: web}}]\n";
  assert.equal(forward(plan(route, req({ headers: { "x-user": "u1" } }), sequence(0), [dr("{httpHeaderName: x-user}")])).hashKey, "u1");
  assert.equal(forward(plan(route, req({ path: "/?session=s9" }), sequence(0), [dr("{httpQueryParameterName: session}")])).hashKey, "s9");
  assert.equal(forward(plan(route, req({ sourceIp: "192.0.2.7" }), sequence(0), [dr("{useSourceIp: true}")])).hashKey, "192.0.2.7");
  const cookie = dr("{httpCookie: {name: sticky, path: /, ttl: 60s}}");
  assert.equal(forward(plan(route, req({ headers: { cookie: "a=1; sticky=abc" } }), sequence(0), [cookie])).hashKey, "abc");
  const fresh = forward(plan(route, req(), sequence(0.25, 0.5), [cookie]));
  assert.deepEqual(fresh.setCookie, { name: "sticky", value: "4000000080000000", path: "/", maxAgeSeconds: 60, attributes: [] });
  assert.equal(fresh.hashKey, "4000000080000000");
  assert.equal(fresh.retry.retryIgnorePreviousHosts, false, "no previous-hosts predicate with hashing");
  const noTtl = forward(plan(route, req(), sequence(0), [dr("{httpCookie: {name: sticky}}")]));
  assert.deepEqual([noTtl.hashKey, noTtl.setCookie], [undefined, undefined]);
});

test("plan: an external DNS ServiceEntry is dialled by name, with DestinationRule TLS origination in the policy", () => {
  const ext = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: payments, namespace: shop}
spec:
  hosts: [api.payments.example.net]
  location: MESH_EXTERNAL
  resolution: DNS
  ports: [{number: 443, name: https, protocol: HTTPS}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: payments, namespace: shop}
spec:
  host: api.payments.example.net
  trafficPolicy: {tls: {mode: SIMPLE, sni: api.payments.example.net}}
`;
  const p = forward(plan("  - route: [{destination: {host: api.payments.example.net}}]\n", req(), sequence(0), [ext]));
  assert.deepEqual(p.cluster.endpoints.map((e) => `${e.address}:${e.port}`), ["api.payments.example.net:443"]);
  assert.deepEqual(p.cluster.trafficPolicy.tls, { mode: "SIMPLE", sni: "api.payments.example.net" });
  assert.equal(p.cluster.name, "outbound|443||api.payments.example.net");
});

test("plan: a sticky cookie renders as a Set-Cookie value", async () => {
  const { setCookieHeader } = await import("../../../src/core/routing/index.ts");
  assert.equal(setCookieHeader({ name: "sticky", value: "ab12", path: "/", maxAgeSeconds: 60, attributes: [{ name: "SameSite", value: "Lax" }, { name: "Secure" }] }), "sticky=ab12; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure");
  assert.equal(setCookieHeader({ name: "s", value: "v", maxAgeSeconds: 0, attributes: [] }), "s=v; HttpOnly");
});
