import { test } from "node:test";
import assert from "node:assert/strict";
import { compileSnapshots } from "../../../src/core/snapshot/compile-snapshots.ts";
import type { NodeSnapshot } from "../../../src/core/snapshot/snapshot-model.ts";
import { resources } from "./fixtures.ts";

const SERVICES = ["a", "b", "c"]
  .map(
    (ns) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: ${ns}}
spec: {hosts: [api], location: MESH_INTERNAL, resolution: STATIC, ports: [{number: 80, name: http, protocol: HTTP}], endpoints: [{address: 10.0.0.1}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: ${ns}}
spec: {hosts: [api], http: [{route: [{destination: {host: api}}]}]}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: api, namespace: ${ns}}
spec: {host: api, trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}}`,
  )
  .join("\n---\n");

const EXTERNAL = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: c}
spec: {hosts: [api.example.com], location: MESH_EXTERNAL, resolution: DNS, ports: [{number: 443, name: tls, protocol: TLS}]}`;

function workload(name: string, ns: string, node: string, app: string): string {
  return `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${name}, namespace: ${ns}, labels: {strait.io/cluster: c1, strait.io/node: ${node}}}
spec: {address: 10.1.0.1, labels: {app: ${app}}}`;
}

function node(yaml: string, name: string): NodeSnapshot {
  const { nodes } = compileSnapshots({ resources: resources(yaml), trustDomain: "strait.local" });
  const n = nodes.find((x) => x.node.node === name);
  assert.ok(n, `node ${name} compiled`);
  return n;
}

const hosts = (n: NodeSnapshot) => n.outbound.map((s) => s.host).sort();

test("without a Sidecar a node sees every visible service", () => {
  const n = node([SERVICES, EXTERNAL, workload("w", "a", "n1", "web")].join("\n---\n"), "n1");
  assert.deepEqual(hosts(n), ["api.a.svc.cluster.local", "api.b.svc.cluster.local", "api.c.svc.cluster.local", "api.example.com"]);
  assert.equal(n.workloads[0]?.sidecar, undefined);
});

test("a namespace Sidecar limits outbound services, routes and DestinationRules to its egress hosts", () => {
  const sidecar = `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: a}
spec:
  egress: [{hosts: ["./*", "c/api.example.com"]}]
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}`;
  const n = node([SERVICES, EXTERNAL, sidecar, workload("w", "a", "n1", "web")].join("\n---\n"), "n1");
  assert.deepEqual(hosts(n), ["api.a.svc.cluster.local", "api.example.com"]);
  assert.deepEqual(n.routes.map((r) => r.host), ["api.a.svc.cluster.local"]);
  assert.deepEqual(n.destinationRules.map((d) => d.host), ["api.a.svc.cluster.local"]);
  assert.equal(n.workloads[0]?.sidecar, "a/default");
  assert.equal(n.workloads[0]?.outboundTrafficPolicy, "REGISTRY_ONLY");
});

test("a workload-selector Sidecar wins over the namespace one; the root-namespace Sidecar is the mesh default", () => {
  const yaml = [
    SERVICES,
    EXTERNAL,
    `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: mesh-default, namespace: strait-system}
spec: {egress: [{hosts: ["b/*"]}]}`,
    `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: web-only, namespace: a}
spec:
  workloadSelector: {labels: {app: web}}
  egress: [{hosts: ["*/api.example.com"]}]
  outboundTrafficPolicy: {mode: ALLOW_ANY}`,
    workload("web", "a", "n1", "web"),
    workload("other", "c", "n2", "other"),
  ].join("\n---\n");
  const web = node(yaml, "n1");
  assert.deepEqual(hosts(web), ["api.example.com"]);
  assert.equal(web.workloads[0]?.outboundTrafficPolicy, "ALLOW_ANY");
  const other = node(yaml, "n2");
  assert.deepEqual(hosts(other), ["api.b.svc.cluster.local"], "mesh default from the root namespace");
  assert.equal(other.workloads[0]?.sidecar, "strait-system/mesh-default");
});

test("two workloads on one node: the outbound view is the union of what each may reach", () => {
  const yaml = [
    SERVICES,
    `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: a}
spec: {egress: [{hosts: ["./*"]}]}`,
    `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: b}
spec: {egress: [{hosts: ["c/*"]}]}`,
    workload("x", "a", "n1", "x"),
    workload("y", "b", "n1", "y"),
  ].join("\n---\n");
  assert.deepEqual(hosts(node(yaml, "n1")), ["api.a.svc.cluster.local", "api.c.svc.cluster.local"]);
});

test("~/ egress admits nothing; a Sidecar without egress listeners leaves egress open", () => {
  const none = `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: a}
spec: {egress: [{hosts: ["~/*"]}]}`;
  assert.deepEqual(hosts(node([SERVICES, none, workload("w", "a", "n1", "w")].join("\n---\n"), "n1")), []);
  const open = `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: a}
spec: {outboundTrafficPolicy: {mode: ALLOW_ANY}}`;
  assert.equal(hosts(node([SERVICES, open, workload("w", "a", "n1", "w")].join("\n---\n"), "n1")).length, 3);
});

test("exportTo still applies under a Sidecar that names the namespace", () => {
  const privateSvc = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: secret, namespace: b}
spec: {hosts: [secret], exportTo: ["."], location: MESH_INTERNAL, resolution: STATIC, ports: [{number: 80, name: http, protocol: HTTP}], endpoints: [{address: 10.0.0.2}]}`;
  const sidecar = `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: a}
spec: {egress: [{hosts: ["b/*"]}]}`;
  assert.deepEqual(hosts(node([SERVICES, privateSvc, sidecar, workload("w", "a", "n1", "w")].join("\n---\n"), "n1")), ["api.b.svc.cluster.local"]);
});
