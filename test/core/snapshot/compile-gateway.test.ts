import { test } from "node:test";
import assert from "node:assert/strict";
import { compileSnapshots } from "../../../src/core/snapshot/compile-snapshots.ts";
import { resources } from "./fixtures.ts";

const GATEWAYS = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: ingress}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*.example.com", "shop/api.internal"]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: other, namespace: ingress}
spec:
  servers:
  - port: {number: 8080, name: http, protocol: HTTP}
    hosts: ["*"]
`;

function vs(name: string, ns: string, created: string, body: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: ${ns}, creationTimestamp: "${created}"}
spec:
${body}`;
}

function hostRoutes(yaml: string) {
  const { gateway } = compileSnapshots({ resources: resources(yaml), trustDomain: "strait.local" });
  return Object.fromEntries(gateway.hosts.map((h) => [h.host, { gateways: h.gateways, http: h.http.map((r) => `${r.source.name}#${r.source.index}${r.catchAll ? "*" : ""}`) }]));
}

const table: { name: string; yaml: string; expected: Record<string, { gateways: string[]; http: string[] }> }[] = [
  {
    name: "VSs for one host merge oldest first; catch-alls move last (SortVHostRoutes)",
    yaml: [
      GATEWAYS,
      vs("newer", "shop", "2024-02-01T00:00:00Z", `  hosts: [shop.example.com]
  gateways: [ingress/edge]
  http:
  - match: [{uri: {prefix: /b}}]
    route: [{destination: {host: b}}]
`),
      vs("older", "shop", "2024-01-01T00:00:00Z", `  hosts: [shop.example.com]
  gateways: [ingress/edge]
  http:
  - match: [{uri: {prefix: /a}}]
    route: [{destination: {host: a}}]
  - route: [{destination: {host: fallback}}]
  - match: [{uri: {prefix: /after}}]
    route: [{destination: {host: a}}]
`),
    ].join("---\n"),
    // older#2 follows a catch-all: pilot BuildHTTPRoutesForVirtualService never generates it.
    expected: { "shop.example.com": { gateways: ["ingress/edge"], http: ["older#0", "newer#0", "older#1*"] } },
  },
  {
    name: "a host no server admits is ignored; a ns/ prefix limits which namespaces bind",
    yaml: [
      GATEWAYS,
      vs("wrong-host", "shop", "2024-01-01T00:00:00Z", `  hosts: [example.com]
  gateways: [ingress/edge]
  http: [{route: [{destination: {host: x}}]}]
`),
      vs("api-ok", "shop", "2024-01-01T00:00:00Z", `  hosts: [api.internal]
  gateways: [ingress/edge]
  http: [{route: [{destination: {host: api}}]}]
`),
      vs("api-foreign", "other", "2024-01-01T00:00:00Z", `  hosts: [api.internal]
  gateways: [ingress/edge]
  http: [{route: [{destination: {host: api}}]}]
`),
    ].join("---\n"),
    expected: { "api.internal": { gateways: ["ingress/edge"], http: ["api-ok#0*"] } },
  },
  {
    name: "match-level gateways override the VS list; mesh-only VSs are not on the gateway",
    yaml: [
      GATEWAYS,
      vs("split", "ingress", "2024-01-01T00:00:00Z", `  hosts: [a.example.com]
  gateways: [edge, other, mesh]
  http:
  - match: [{uri: {exact: /only-other}, gateways: [other]}]
    route: [{destination: {host: o}}]
  - match: [{headers: {x-env: {exact: dev}}}]
    route: [{destination: {host: d}}]
`),
      vs("mesh-only", "ingress", "2024-01-01T00:00:00Z", `  hosts: [m.example.com]
  http: [{route: [{destination: {host: m}}]}]
`),
    ].join("---\n"),
    expected: { "a.example.com": { gateways: ["ingress/edge", "ingress/other"], http: ["split#0", "split#1"] } },
  },
];

for (const t of table) {
  test(`gateway: ${t.name}`, () => assert.deepEqual(hostRoutes(t.yaml), t.expected));
}

test("gateway: destination hosts are fully qualified relative to the VS namespace", () => {
  const { gateway } = compileSnapshots({
    resources: resources(
      GATEWAYS +
        "---\n" +
        vs("q", "shop", "2024-01-01T00:00:00Z", `  hosts: [q.example.com]
  gateways: [ingress/edge]
  http: [{route: [{destination: {host: reviews, subset: v1}}], mirror: {host: shadow}}]
`),
    ),
    trustDomain: "strait.local",
  });
  const route = gateway.hosts[0]!.http[0]!.route;
  assert.equal(route.route?.[0]?.destination.host, "reviews.shop.svc.cluster.local");
  assert.equal(route.mirror?.host, "shadow.shop.svc.cluster.local");
});

test("gateway: policies apply by targetRef, selector within the gateway selector, namespace or mesh scope", () => {
  const policies = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: by-ref, namespace: ingress}
spec:
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: edge}]
  action: DENY
  rules: [{to: [{operation: {paths: [/admin]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: by-selector, namespace: ingress}
spec:
  selector: {matchLabels: {istio: ingressgateway}}
  rules: [{}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: elsewhere, namespace: shop}
spec:
  rules: [{}]
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: mesh-jwt, namespace: strait-system}
spec:
  jwtRules: [{issuer: "https://issuer.example.com", jwksUri: "https://issuer.example.com/jwks"}]
`;
  const { gateway } = compileSnapshots({ resources: resources(GATEWAYS + "---\n" + policies), trustDomain: "strait.local" });
  assert.deepEqual(
    gateway.authorizationPolicies.map((p) => [p.source.name, p.scope, p.appliesTo]),
    [
      ["by-ref", "workload", ["ingress/edge"]],
      ["by-selector", "workload", ["ingress/edge"]],
    ],
  );
  assert.deepEqual(gateway.requestAuthentications.map((p) => [p.source.name, p.scope, p.appliesTo]), [["mesh-jwt", "mesh", ["ingress/edge", "ingress/other"]]]);
});
