/**
 * One routing case table run on Node, in workerd and on Deno: the results
 * must be identical (runtime-free core, RE2 via re2js everywhere).
 * Imports nothing runtime-specific.
 */
import {
  corsPreflight,
  createLoadBalancer,
  planRequest,
  resolveRetryPolicy,
  retryDecision,
  type RequestFacts,
  type RequestPlan,
} from "../../../src/core/routing/index.ts";
import { docs, GATEWAY, gatewayTable, gatewayVs, req, seeded, service } from "./fixtures.ts";

const YAML = docs(
  GATEWAY.replace('hosts: ["*.example.com"]', 'hosts: ["*.example.com"]\n  - port: {number: 8080, name: http-alt, protocol: HTTP}\n    hosts: ["redirect.example.com"]\n    tls: {httpsRedirect: true}'),
  gatewayVs(`  - name: redos
    match: [{headers: {x-evil: {regex: "(a+)+$"}}}]
    directResponse: {status: 200, body: {string: matched}}
  - name: claims
    match: [{headers: {"@request.auth.claims.groups": {exact: admins}}}]
    route: [{destination: {host: reviews, subset: v2}}]
  - name: canary
    match: [{headers: {x-canary: {}}}]
    route:
    - destination: {host: reviews, subset: v1}
      weight: 50
    - destination: {host: reviews, subset: v2}
      weight: 50
  - name: rewrite
    match: [{uri: {prefix: /old}}, {uri: {regex: "/legacy/[0-9]+"}}]
    rewrite: {uri: /new}
    headers: {request: {set: {x-rewritten: "yes"}}}
    route: [{destination: {host: reviews}}]
  - name: regex-rewrite
    match: [{uri: {prefix: /svc/}}]
    rewrite: {uriRegexRewrite: {match: "^/svc/([^/]+)(/.*)$", rewrite: "\\\\2/of/\\\\1"}}
    route: [{destination: {host: reviews}}]
  - name: moved
    match: [{uri: {exact: /moved}}]
    redirect: {uri: /here, derivePort: FROM_REQUEST_PORT, redirectCode: 308}
  - name: faulty
    match: [{uri: {prefix: /fault}}]
    fault: {delay: {fixedDelay: 1s, percentage: {value: 50}}, abort: {httpStatus: 503, percentage: {value: 50}}}
    mirror: {host: reviews, subset: v1}
    mirrorPercentage: {value: 50}
    retries: {attempts: 4, retryOn: "5xx,429", perTryTimeout: 1s}
    timeout: 3s
    route: [{destination: {host: reviews}}]
  - name: cors
    match: [{uri: {prefix: /cors}}]
    corsPolicy: {allowOrigins: [{regex: "https://.*\\\\.example\\\\.com"}], allowMethods: [GET], maxAge: 1h}
    route: [{destination: {host: reviews}}]
  - name: static-empty
    match: [{uri: {prefix: /partner}}]
    route: [{destination: {host: static.partner.example.net}}]
  - name: rest
    route: [{destination: {host: reviews}}]
`),
  // STATIC with no endpoints: Envoy's cluster is empty (503 UH), it is not dialled by name.
  `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: partner, namespace: shop}
spec:
  hosts: [static.partner.example.net]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
`,
  service("reviews", "shop", [
    { address: "10.0.0.1", labels: { version: "v1" } },
    { address: "10.0.0.2", labels: { version: "v2" } },
    { address: "10.0.0.3", labels: { version: "v2" } },
  ]),
  `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: shop}
spec:
  host: reviews
  trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-user, maglev: {tableSize: 4099}}}}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}, trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}}
`,
);

const REQUESTS: [string, RequestFacts][] = [
  ["redos", req({ headers: { "x-evil": "a".repeat(20_000) + "b" } })],
  ["redos-match", req({ headers: { "x-evil": "aaaa" } })],
  ["claims", req({ claims: { groups: ["users", "admins"] } })],
  ["canary", req({ headers: { "x-canary": "1" } })],
  ["rewrite-prefix", req({ path: "/old/a?b=c" })],
  ["rewrite-regex-match", req({ path: "/legacy/42?q" })],
  ["regex-rewrite", req({ path: "/svc/cart/items?x" })],
  ["redirect", req({ path: "/moved?x=1", authority: "shop.example.com", port: 85 })],
  ["https-redirect", req({ authority: "redirect.example.com:8080", port: 8080, path: "/p?q" })],
  ["fault", req({ path: "/fault/x", headers: { "x-user": "alice" } })],
  ["cors", req({ path: "/cors", method: "OPTIONS", headers: { origin: "https://app.example.com", "access-control-request-method": "PUT" } })],
  ["static-empty", req({ path: "/partner/x" })],
  ["no-host", req({ authority: "nope.example.org" })],
  ["default", req({ path: "/", headers: { "x-user": "bob" } })],
];

function serializable(p: RequestPlan): unknown {
  return JSON.parse(JSON.stringify(p, (_k, v: unknown) => (v instanceof Uint8Array ? Array.from(v) : v)));
}

export function runRoutingCases(): Record<string, unknown> {
  const table = gatewayTable(YAML);
  const out: Record<string, unknown> = { issues: table.issues };
  const rng = seeded(42);
  for (const [name, facts] of REQUESTS) {
    const plan = planRequest(table, facts, rng);
    const entry: Record<string, unknown> = { plan: serializable(plan) };
    if (plan.kind === "forward") {
      const lb = createLoadBalancer(plan.cluster.trafficPolicy.loadBalancer, seeded(1));
      entry.picks = Array.from({ length: 4 }, () => lb.pick(plan.cluster.endpoints, plan.hashKey === undefined ? {} : { hashKey: plan.hashKey })?.address);
      if (plan.cors !== undefined) entry.preflight = corsPreflight(plan.cors, facts);
    }
    out[name] = entry;
  }
  const weights: Record<string, number> = {};
  for (let i = 0; i < 2000; i++) {
    const p = planRequest(table, req({ headers: { "x-canary": "1" } }), rng);
    if (p.kind === "forward") weights[p.destination.subset ?? ""] = (weights[p.destination.subset ?? ""] ?? 0) + 1;
  }
  out.weights = weights;
  const policy = resolveRetryPolicy({ attempts: 3, retryOn: "gateway-error,reset,409" });
  out.retries = [
    retryDecision(policy, { kind: "response", status: 503 }, 0, seeded(3)),
    retryDecision(policy, { kind: "response", status: 409 }, 1, seeded(3)),
    retryDecision(policy, { kind: "response", status: 500 }, 1, seeded(3)),
    retryDecision(policy, { kind: "reset" }, 3, seeded(3)),
  ];
  const ring = createLoadBalancer({ consistentHash: { useSourceIp: true } });
  const endpoints = Array.from({ length: 7 }, (_, i) => ({ address: `10.1.0.${i}`, port: 80, labels: {}, weight: 1 }));
  out.ring = Array.from({ length: 20 }, (_, i) => ring.pick(endpoints, { hashKey: `192.0.2.${i}` })?.address);
  return out;
}
