/**
 * Gateway merge divergences found reviewing the compiler against
 * istio-semantics.md §2.1 (SortVHostRoutes) and §2.17 (host binding).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { compileSnapshots } from "../../../src/core/snapshot/compile-snapshots.ts";
import { resources } from "./fixtures.ts";

function gateway(name: string, hosts: string[]): string {
  return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ${name}, namespace: ingress}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ${JSON.stringify(hosts)}
`;
}

function vs(name: string, created: string, hosts: string[], http: string): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: shop, creationTimestamp: "${created}"}
spec:
  hosts: ${JSON.stringify(hosts)}
  gateways: [ingress/edge]
  http:
${http}`;
}

/** host -> ordered `vs#index[match uris or headers]` with `*` on catch-alls. */
function hostRoutes(yaml: string): Record<string, string[]> {
  const { gateway: snap } = compileSnapshots({ resources: resources(yaml), trustDomain: "strait.local" });
  return Object.fromEntries(
    snap.hosts.map((h) => [
      h.host,
      h.http.map((r) => {
        const matches = (r.route.match ?? []).map((m) => m.uri?.prefix ?? m.uri?.regex ?? Object.keys(m.headers ?? {}).join("+"));
        return `${r.source.name}#${r.source.index}[${matches.join(",")}]${r.catchAll ? "*" : ""}`;
      }),
    ]),
  );
}

const sorting: { name: string; yaml: string; expected: Record<string, string[]> }[] = [
  {
    // Istio sorts Envoy routes (one per match entry), so only the "/" entry of the older route moves last.
    name: "a route mixing a catch-all entry with a narrower one is split; the narrower entry keeps its place",
    yaml: [
      gateway("edge", ["shop.example.com"]),
      // The narrower entry comes first: pilot stops generating a VS's routes at its first catch-all entry.
      vs("older", "2024-01-01T00:00:00Z", ["shop.example.com"], `  - match: [{headers: {end-user: {exact: jason}}}, {uri: {prefix: /}}]
    route: [{destination: {host: a}}]
`),
      vs("newer", "2024-02-01T00:00:00Z", ["shop.example.com"], `  - match: [{headers: {end-user: {prefix: j}}}]
    route: [{destination: {host: b}}]
`),
    ].join("---\n"),
    expected: { "shop.example.com": ["older#0[end-user]", "newer#0[end-user]", "older#0[/]*"] },
  },
  {
    name: "prefix / is a catch-all but regex .* is not (pilot isCatchAllRoute), so .* keeps its place",
    yaml: [
      gateway("edge", ["shop.example.com"]),
      vs("older", "2024-01-01T00:00:00Z", ["shop.example.com"], `  - match: [{uri: {regex: ".*"}}]
    route: [{destination: {host: a}}]
  - match: [{uri: {prefix: /}}]
    route: [{destination: {host: a}}]
`),
      vs("newer", "2024-02-01T00:00:00Z", ["shop.example.com"], `  - match: [{uri: {prefix: /b}}]
    route: [{destination: {host: b}}]
`),
    ].join("---\n"),
    expected: { "shop.example.com": ["older#0[.*]", "newer#0[/b]", "older#1[/]*"] },
  },
  {
    name: "a port-only match is still a catch-all: port picks the listener, not the request",
    yaml: [
      gateway("edge", ["shop.example.com"]),
      vs("older", "2024-01-01T00:00:00Z", ["shop.example.com"], `  - match: [{port: 80}]
    route: [{destination: {host: a}}]
`),
      vs("newer", "2024-02-01T00:00:00Z", ["shop.example.com"], `  - match: [{uri: {prefix: /b}}]
    route: [{destination: {host: b}}]
`),
    ].join("---\n"),
    expected: { "shop.example.com": ["newer#0[/b]", "older#0[]*"] },
  },
  {
    name: "a method match narrows (it becomes a :method header match)",
    yaml: [
      gateway("edge", ["shop.example.com"]),
      vs("older", "2024-01-01T00:00:00Z", ["shop.example.com"], `  - match: [{method: {exact: GET}}]
    route: [{destination: {host: a}}]
`),
      vs("newer", "2024-02-01T00:00:00Z", ["shop.example.com"], `  - route: [{destination: {host: b}}]
`),
    ].join("---\n"),
    expected: { "shop.example.com": ["older#0[]", "newer#0[]*"] },
  },
];

for (const t of sorting) {
  test(`gateway sort: ${t.name}`, () => assert.deepEqual(hostRoutes(t.yaml), t.expected));
}

const binding: { name: string; serverHosts: string[]; vsHosts: string[]; expected: string[] }[] = [
  { name: "VS * on a named server binds as the server host", serverHosts: ["shop.example.com"], vsHosts: ["*"], expected: ["shop.example.com"] },
  { name: "VS * on several server hosts binds to each", serverHosts: ["a.example.com", "b.example.com"], vsHosts: ["*"], expected: ["a.example.com", "b.example.com"] },
  { name: "VS *.example.com on a named server binds as the server host", serverHosts: ["shop.example.com"], vsHosts: ["*.example.com"], expected: ["shop.example.com"] },
  { name: "VS name under a server wildcard keeps its own name", serverHosts: ["*.example.com"], vsHosts: ["shop.example.com"], expected: ["shop.example.com"] },
  { name: "narrower VS wildcard under a server wildcard keeps its own name", serverHosts: ["*.example.com"], vsHosts: ["*.shop.example.com"], expected: ["*.shop.example.com"] },
  { name: "a wildcard does not match its bare suffix", serverHosts: ["*.example.com"], vsHosts: ["example.com"], expected: [] },
  { name: "disjoint names do not bind", serverHosts: ["a.example.com"], vsHosts: ["*.other.com"], expected: [] },
  { name: "ns/ prefix of another namespace does not admit VS *", serverHosts: ["other/shop.example.com"], vsHosts: ["*"], expected: [] },
  { name: "ns/ prefix of the VS namespace admits VS *", serverHosts: ["shop/shop.example.com"], vsHosts: ["*"], expected: ["shop.example.com"] },
];

for (const t of binding) {
  test(`gateway binding (pickMatchingGatewayHosts overlap): ${t.name}`, () => {
    const yaml = [gateway("edge", t.serverHosts), vs("v", "2024-01-01T00:00:00Z", t.vsHosts, `  - route: [{destination: {host: a}}]\n`)].join("---\n");
    const routes = hostRoutes(yaml);
    assert.deepEqual(Object.keys(routes), t.expected);
    for (const host of t.expected) assert.deepEqual(routes[host], ["v#0[]*"]);
  });
}
