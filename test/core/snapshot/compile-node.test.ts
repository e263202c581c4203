import { test } from "node:test";
import assert from "node:assert/strict";
import { compileSnapshots, targetNodes } from "../../../src/core/snapshot/compile-snapshots.ts";
import type { NodeSnapshot } from "../../../src/core/snapshot/snapshot-model.ts";
import { resources } from "./fixtures.ts";

const MESH = `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: web-1, namespace: front, labels: {strait.io/cluster: c1, strait.io/node: n1}}
spec: {address: 10.0.1.1, serviceAccount: web, labels: {app: web}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: db-1, namespace: data, labels: {strait.io/cluster: c1, strait.io/node: n2}}
spec: {address: 10.0.2.1, labels: {app: db}, ports: {tcp: 15432}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: web, namespace: front}
spec:
  hosts: [web]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: 8080}]
  workloadSelector: {labels: {app: web}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: db, namespace: data}
spec:
  hosts: [db]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 5432, name: tcp, protocol: TCP}]
  workloadSelector: {labels: {app: db}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: private, namespace: data}
spec:
  hosts: [private]
  exportTo: ["."]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 10.0.2.9, serviceAccount: private}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: payments, namespace: front}
spec:
  hosts: [api.payments.example]
  location: MESH_EXTERNAL
  resolution: DNS
  ports: [{number: 443, name: https, protocol: TLS}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db, namespace: data}
spec:
  hosts: [db]
  tcp: [{route: [{destination: {host: db}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: private, namespace: data}
spec:
  hosts: [private]
  exportTo: ["."]
  http: [{route: [{destination: {host: private}}]}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: db, namespace: data}
spec:
  host: db
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web-clients-only, namespace: data}
spec:
  host: db
  workloadSelector: {matchLabels: {app: db}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: mesh-strict, namespace: strait-system}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: root-selector-ignored, namespace: strait-system}
spec:
  selector: {matchLabels: {app: db}}
  mtls: {mode: DISABLE}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: data-ns, namespace: data}
spec: {}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: db-allow-web, namespace: data}
spec:
  selector: {matchLabels: {app: db}}
  rules: [{from: [{source: {principals: [strait.local/ns/front/sa/web]}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: mesh-deny-selected, namespace: strait-system}
spec:
  selector: {matchLabels: {app: web}}
  action: DENY
  rules: [{to: [{operation: {paths: [/debug]}}]}]
`;

function compile(yaml: string, extra: Partial<Parameters<typeof compileSnapshots>[0]> = {}) {
  return compileSnapshots({ resources: resources(yaml), trustDomain: "strait.local", ...extra });
}

function node(nodes: NodeSnapshot[], name: string): NodeSnapshot {
  const n = nodes.find((x) => x.node.node === name);
  assert.ok(n, `snapshot for ${name}`);
  return n;
}

test("node targets: attested nodes plus nodes named by WorkloadEntry labels, with node SPIFFE IDs", () => {
  const targets = targetNodes({ resources: resources(MESH), nodes: [{ cluster: "c1", node: "n1" }, { cluster: "c0", node: "idle" }], trustDomain: "strait.local" });
  assert.deepEqual(
    targets.map((t) => [t.cluster, t.node, t.spiffeId]),
    [
      ["c0", "idle", "spiffe://strait.local/node/c0/idle"],
      ["c1", "n1", "spiffe://strait.local/node/c1/n1"],
      ["c1", "n2", "spiffe://strait.local/node/c1/n2"],
    ],
  );
});

const table: { name: string; node: string; check: (n: NodeSnapshot) => unknown; expected: unknown }[] = [
  { name: "workloads on the node with their identity", node: "n1", check: (n) => n.workloads.map((w) => [w.namespace, w.name, w.spiffeId, w.serves]), expected: [["front", "web-1", "spiffe://strait.local/ns/front/sa/web", ["web.front.svc.cluster.local"]]] },
  { name: "service account defaults to `default`", node: "n2", check: (n) => n.workloads.map((w) => w.spiffeId), expected: ["spiffe://strait.local/ns/data/sa/default"] },
  { name: "inbound: services its workloads serve", node: "n2", check: (n) => n.inbound.map((s) => s.host), expected: ["db.data.svc.cluster.local"] },
  { name: "outbound: visible per exportTo (`.` hides data/private from front)", node: "n1", check: (n) => n.outbound.map((s) => s.host), expected: ["api.payments.example", "db.data.svc.cluster.local", "web.front.svc.cluster.local"] },
  { name: "outbound includes its own namespace's `.` services", node: "n2", check: (n) => n.outbound.map((s) => s.host), expected: ["api.payments.example", "db.data.svc.cluster.local", "private.data.svc.cluster.local", "web.front.svc.cluster.local"] },
  { name: "endpoints carry node placement, SPIFFE ID and the port mapping", node: "n1", check: (n) => n.outbound.find((s) => s.host.startsWith("db."))?.endpoints, expected: [{ address: "10.0.2.1", ports: { "5432": 15432 }, labels: { app: "db" }, spiffeId: "spiffe://strait.local/ns/data/sa/default", placement: { cluster: "c1", node: "n2" }, workload: "data/db-1" }] },
  { name: "targetPort applies when the workload names no port", node: "n2", check: (n) => n.outbound.find((s) => s.host.startsWith("web."))?.endpoints[0]?.ports, expected: { "80": 8080 } },
  { name: "mesh routes visible to the node's namespaces", node: "n1", check: (n) => n.routes.map((r) => [r.host, r.tcp.length, r.http.length]), expected: [["db.data.svc.cluster.local", 1, 0]] },
  { name: "DR with a workloadSelector only on nodes running a selected workload", node: "n1", check: (n) => n.destinationRules.map((d) => d.source.name), expected: ["db"] },
  { name: "DRs for the selected workload's node", node: "n2", check: (n) => n.destinationRules.map((d) => d.source.name), expected: ["db", "web-clients-only"] },
  { name: "mesh-wide PeerAuthentication; root-namespace selector PA ignored", node: "n2", check: (n) => n.peerAuthentications.map((p) => [p.source.name, p.scope, p.appliesTo]), expected: [["mesh-strict", "mesh", ["data/db-1"]]] },
  {
    name: "AuthorizationPolicies: namespace-wide and selector in the node's namespaces",
    node: "n2",
    check: (n) => n.authorizationPolicies.map((p) => [p.source.name, p.scope, p.appliesTo]),
    expected: [
      ["data-ns", "namespace", ["data/db-1"]],
      ["db-allow-web", "workload", ["data/db-1"]],
    ],
  },
  { name: "root-namespace selector AuthorizationPolicy applies mesh-wide to matching workloads", node: "n1", check: (n) => n.authorizationPolicies.map((p) => [p.source.name, p.appliesTo]), expected: [["mesh-deny-selected", ["front/web-1"]]] },
];

const compiled = compile(MESH, { revocations: [{ spiffeId: "spiffe://strait.local/node/c1/gone", revokedAt: 5 }] });
for (const t of table) {
  test(`node: ${t.name}`, () => assert.deepEqual(t.check(node(compiled.nodes, t.node)), t.expected));
}

test("node: every node snapshot carries the revocation list", () => {
  for (const n of compiled.nodes) assert.deepEqual(n.revocations, [{ spiffeId: "spiffe://strait.local/node/c1/gone", revokedAt: 5 }]);
});

test("node: a node without workloads gets an empty snapshot, not an error", () => {
  const { nodes } = compile(MESH, { nodes: [{ cluster: "c9", node: "empty" }] });
  const empty = node(nodes, "empty");
  assert.deepEqual([empty.workloads, empty.outbound, empty.routes, empty.authorizationPolicies], [[], [], [], []]);
});

test("compile is deterministic: input order does not change the serialised snapshots", () => {
  const rs = resources(MESH);
  const a = compileSnapshots({ resources: rs, trustDomain: "strait.local" });
  const b = compileSnapshots({ resources: [...rs].reverse(), trustDomain: "strait.local" });
  assert.equal(JSON.stringify(a.gateway), JSON.stringify(b.gateway));
  for (let i = 0; i < a.nodes.length; i++) assert.equal(JSON.stringify(a.nodes[i]), JSON.stringify(b.nodes[i]));
});

test("weird-but-valid configs compile without throwing", () => {
  const weird = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: delegate, namespace: x}
spec:
  http: [{route: [{destination: {host: nowhere}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: tls-only, namespace: x}
spec:
  hosts: [tls.example.com]
  gateways: [missing-gateway]
  tls: [{match: [{sniHosts: [tls.example.com]}], route: [{destination: {host: tls.example.com}}]}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: no-ports, namespace: x}
spec: {hosts: [np.example.com], resolution: DNS}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: net-only, namespace: x, labels: {strait.io/node: half-placed}}
spec: {network: vpc-2}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: wild, namespace: x}
spec: {host: "*.example.com", exportTo: ["."]}
`;
  const out = compile(weird, { nodes: [{ cluster: "c", node: "n" }] });
  assert.equal(out.nodes.length, 1, "a WorkloadEntry with only one placement label is not placed");
  assert.deepEqual(out.gateway.hosts, []);
  assert.deepEqual(out.gateway.services.map((s) => [s.host, s.endpoints.length]), [["np.example.com", 0]]);
});
