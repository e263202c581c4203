/**
 * Mesh route tables for a node proxy's client workloads: mesh-bound
 * VirtualServices per host, `exportTo` visibility from the source namespace,
 * default routes to services without a VirtualService, short host names,
 * `sourceLabels`/`sourceNamespace` selecting clients.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { lookupRoute, planRequest, type RequestFacts, type RouteTable } from "../../../src/core/routing/index.ts";
import { docs, meshTable, req, service } from "./fixtures.ts";

const CLIENTS = `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: app-1, namespace: front, labels: {strait.io/cluster: c1, strait.io/node: n1}}
spec: {address: 10.1.0.1, labels: {app: frontend, version: v1}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: other-1, namespace: other, labels: {strait.io/cluster: c1, strait.io/node: n1}}
spec: {address: 10.1.0.2, labels: {app: other}}
`;

const REVIEWS = service("reviews", "front", [
  { address: "10.2.0.1", labels: { version: "v1" } },
  { address: "10.2.0.2", labels: { version: "v2" } },
]);

function meshVs(http: string, extra = ""): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: front}
spec:
  hosts: [reviews]
${extra}  http:
${http}`;
}

function outcome(t: RouteTable, f: RequestFacts): string {
  const r = lookupRoute(t, f);
  if (r.kind === "route") return `${r.source.kind}/${r.source.name}:${r.route.ref.name ?? r.source.index}`;
  return r.kind;
}

const mreq = (authority: string, p: { path?: string } = {}) => req({ authority, port: 8080, ...p });

test("mesh: the VS host answers under its FQDN and the short names Istio accepts", () => {
  const t = meshTable(docs(CLIENTS, REVIEWS, meshVs("  - name: all\n    route: [{destination: {host: reviews}}]\n")), "front");
  for (const a of ["reviews.front.svc.cluster.local:8080", "reviews.front.svc.cluster.local", "reviews.front", "reviews.front.svc", "reviews:8080"]) {
    assert.equal(outcome(t, mreq(a)), "VirtualService/reviews:all", a);
  }
  const other = meshTable(docs(CLIENTS, REVIEWS, meshVs("  - route: [{destination: {host: reviews}}]\n")), "other");
  assert.equal(outcome(other, mreq("reviews")), "no-route", "the bare name resolves only in the service's namespace");
  assert.notEqual(outcome(other, mreq("reviews.front")), "no-route");
});

test("mesh: exportTo '.' hides the VS from other namespaces, which get the default service route", () => {
  const yaml = docs(CLIENTS, REVIEWS, meshVs("  - name: pinned\n    route: [{destination: {host: reviews, subset: v1}}]\n", "  exportTo: [.]\n"));
  assert.equal(outcome(meshTable(yaml, "front"), mreq("reviews.front.svc.cluster.local")), "VirtualService/reviews:pinned");
  assert.equal(outcome(meshTable(yaml, "other"), mreq("reviews.front.svc.cluster.local")), "ServiceEntry/reviews:0");
});

test("mesh: a service without a VirtualService gets a default route to itself on the request port", () => {
  const t = meshTable(docs(CLIENTS, REVIEWS), "front");
  const plan = planRequest(t, mreq("reviews.front.svc.cluster.local:8080"));
  assert.equal(plan.kind, "forward");
  if (plan.kind !== "forward") return;
  assert.equal(plan.cluster.name, "outbound|8080||reviews.front.svc.cluster.local");
  assert.deepEqual(plan.cluster.endpoints.map((e) => `${e.address}:${e.port}`), ["10.2.0.1:8080", "10.2.0.2:8080"]);
  assert.equal(outcome(t, mreq("unknown.example.com")), "no-route");
});

test("mesh: a service exported only to its namespace is invisible elsewhere", () => {
  const hidden = REVIEWS.replace("resolution: STATIC", "resolution: STATIC\n  exportTo: [.]");
  assert.equal(outcome(meshTable(docs(CLIENTS, hidden), "other"), mreq("reviews.front.svc.cluster.local")), "no-route");
  assert.equal(outcome(meshTable(docs(CLIENTS, hidden), "front"), mreq("reviews.front.svc.cluster.local")), "ServiceEntry/reviews:0");
});

test("mesh: sourceLabels and sourceNamespace select clients at compile time", () => {
  const yaml = docs(
    CLIENTS,
    REVIEWS,
    meshVs(`  - name: v1-clients
    match: [{sourceLabels: {version: v1}}]
    route: [{destination: {host: reviews}}]
  - name: from-other
    match: [{sourceNamespace: other}]
    route: [{destination: {host: reviews}}]
  - name: rest
    route: [{destination: {host: reviews}}]
`),
  );
  assert.equal(outcome(meshTable(yaml, "front", { sourceLabels: { app: "frontend", version: "v1" } }), mreq("reviews.front")), "VirtualService/reviews:v1-clients");
  assert.equal(outcome(meshTable(yaml, "front", { sourceLabels: { app: "frontend", version: "v2" } }), mreq("reviews.front")), "VirtualService/reviews:rest");
  assert.equal(outcome(meshTable(yaml, "other", { sourceLabels: { app: "other" } }), mreq("reviews.front")), "VirtualService/reviews:from-other");
});

test("mesh: of two VirtualServices for one host the oldest wins (no merge off the gateway)", () => {
  const a = meshVs("  - name: first\n    route: [{destination: {host: reviews}}]\n").replace("name: reviews, namespace: front}", 'name: a, namespace: front, creationTimestamp: "2024-01-01T00:00:00Z"}');
  const b = meshVs("  - name: second\n    match: [{uri: {prefix: /b}}]\n    route: [{destination: {host: reviews}}]\n").replace(
    "name: reviews, namespace: front}",
    'name: b, namespace: front, creationTimestamp: "2024-03-01T00:00:00Z"}',
  );
  const t = meshTable(docs(CLIENTS, REVIEWS, b, a), "front");
  assert.equal(outcome(t, mreq("reviews.front", { path: "/b" })), "VirtualService/a:first");
});
