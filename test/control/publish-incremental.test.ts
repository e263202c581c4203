/**
 * The publisher keeps the config between runs (mirror of the revision log + compile memo), in real
 * workerd: whatever sequence of writes lands (updates, creates, deletes, a rollback), what it
 * publishes is exactly what a compile from scratch of the stored config gives; a publisher that
 * starts afresh (worker restarted) reads everything again, so a change made around the API is
 * picked up, and an unchanged target keeps its version.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createThrowawayCa, type ThrowawayCa } from "../support/throwaway-ca.ts";
import { bearer, controlClient, type AttestedNode } from "../support/control-client.ts";
import { d1Execute, startRestartableControlWorker, type RestartableControlWorker } from "../support/identity-d1.ts";
import type { AnyResource } from "../../src/core/config/resource.ts";
import { compileSnapshots } from "../../src/core/snapshot/compile-snapshots.ts";
import { SnapshotSplitter } from "../../src/core/snapshot/snapshot-layout.ts";

type Json = Record<string, any>;
let ca: ThrowawayCa;
let rw: RestartableControlWorker;
let node: AttestedNode;
const control = controlClient<Json>(() => rw.worker, () => ca.adminToken);

const KINDS = [
  ["networking.istio.io/v1", "serviceentries"],
  ["networking.istio.io/v1", "workloadentries"],
  ["networking.istio.io/v1", "virtualservices"],
  ["networking.istio.io/v1", "destinationrules"],
  ["security.istio.io/v1", "authorizationpolicies"],
] as const;

/** A ServiceEntry `name` in `ns` selecting `app: name`, or (`local`) one exported only to its own namespace. */
const serviceEntry = (name: string, ns = "shop", local = false) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: ${ns}}
spec: {hosts: [${name}], location: MESH_INTERNAL, resolution: STATIC, ports: [{number: 80, name: http, protocol: HTTP}], ${local ? 'exportTo: ["."]' : `workloadSelector: {labels: {app: ${name}}}`}}`;
/** A WorkloadEntry of app `app` on node c1/n1, optionally with a version label and an http port. */
const workloadEntry = (name: string, app: string, address: string, o: { version?: string; port?: number } = {}) => `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${name}, namespace: shop, labels: {strait.io/cluster: c1, strait.io/node: n1}}
spec: {address: ${address}, serviceAccount: ${app}, labels: {app: ${app}${o.version === undefined ? "" : `, version: ${o.version}`}}${o.port === undefined ? "" : `, ports: {http: ${o.port}}`}}`;

const BASE = `${serviceEntry("a")}
---
${workloadEntry("a-1", "a", "10.0.1.1", { version: "v1", port: 8080 })}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: a, namespace: shop}
spec: {hosts: [a], http: [{route: [{destination: {host: a, subset: v1}}]}]}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: a, namespace: shop}
spec: {host: a, subsets: [{name: v1, labels: {version: v1}}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: a, namespace: shop}
spec: {selector: {matchLabels: {app: a}}, action: ALLOW, rules: [{from: [{source: {namespaces: [shop]}}]}]}`;

async function applyYaml(yaml: string, wait = false): Promise<Json> {
  const r = await rw.worker.fetch(`/v1/apply${wait ? "?wait=60" : ""}`, { method: "POST", headers: bearer(ca.adminToken, "application/yaml"), body: yaml });
  const body = (await r.json()) as Json;
  assert.equal(r.status, 200, JSON.stringify(body));
  if (wait) assert.equal(body.publish?.state, "Published", JSON.stringify(body.publish));
  return body;
}

/** The stored config as the API lists it, compiled from scratch here: each target's snapshot hash. */
async function expectedHashes(): Promise<Map<string, string>> {
  const stored: AnyResource[] = [];
  for (const [gv, plural] of KINDS) {
    const r = await control.api(`/apis/${gv}/${plural}`, { token: ca.adminToken });
    assert.equal(r.status, 200, r.text);
    stored.push(...(r.body.items as AnyResource[]));
  }
  const { gateway, nodes } = compileSnapshots({ resources: stored, nodes: [{ cluster: "c1", node: "n1" }], trustDomain: "strait.local" });
  const splitter = new SnapshotSplitter({ maxBlobBytes: 20 * 1024 * 1024 });
  const out = new Map<string, string>();
  out.set("gateway", (await splitter.split(gateway)).layout.hash);
  for (const n of nodes) out.set(`node:${n.node.cluster}/${n.node.node}`, (await splitter.split(n)).layout.hash);
  return out;
}

async function publishedHead(target: "gateway" | "node:c1/n1"): Promise<{ version: number; hash: string }> {
  const path = target === "gateway" ? "/v1/snapshots/gateway" : "/v1/snapshots/nodes/c1/n1";
  const r = await control.api(path, { token: target === "gateway" ? ca.adminToken : node.jwt });
  assert.equal(r.status, 200, r.text);
  return { version: r.body.version as number, hash: r.body.hash as string };
}

async function assertPublishedAsCompiled(step: string): Promise<void> {
  const expected = await expectedHashes();
  for (const target of ["gateway", "node:c1/n1"] as const) {
    assert.equal((await publishedHead(target)).hash, expected.get(target), `${step}: ${target} is what the stored config compiles to`);
  }
}

before(async () => {
  ca = await createThrowawayCa();
  rw = await startRestartableControlWorker({ ...ca.vars, SNAPSHOT_LONGPOLL_MAX_SECONDS: "10" });
  node = await control.attest("c1", "n1");
});
after(async () => {
  await rw?.dispose();
});

test("after updates, creates, deletes and a rollback, each published snapshot is what the stored config compiles to", async () => {
  const base = await applyYaml(BASE, true);
  await assertPublishedAsCompiled("base");
  // Writes that land without waiting, so one run may cover several revisions.
  await applyYaml(BASE.replace("ports: {http: 8080}", "ports: {http: 8081}"));
  await applyYaml(`${serviceEntry("b")}\n---\n${workloadEntry("b-1", "b", "10.0.1.2")}`);
  const del = await control.api("/apis/networking.istio.io/v1/namespaces/shop/virtualservices/a", { method: "DELETE", token: ca.adminToken });
  assert.equal(del.status, 200, del.text);
  await applyYaml(BASE.replace("{number: 80, name: http, protocol: HTTP}", "{number: 80, name: http, protocol: HTTP}, {number: 9090, name: metrics, protocol: HTTP}"), true);
  await assertPublishedAsCompiled("after updates, a create and a delete");

  // A rollback is one more revision: the deleted VirtualService comes back, b goes.
  const rb = await control.api("/v1/rollback", { token: ca.adminToken, json: { revision: base.revision } });
  assert.equal(rb.status, 200, rb.text);
  await applyYaml(serviceEntry("elsewhere", "other", true), true);
  await assertPublishedAsCompiled("after a rollback");
  assert.equal((await control.api("/apis/networking.istio.io/v1/namespaces/shop/virtualservices/a", { token: ca.adminToken })).status, 200);
});

test("a publisher starting afresh reads the whole config: a change made around the API is published, an unchanged target keeps its version", async () => {
  const before = await publishedHead("node:c1/n1");
  // An operator edits D1 by hand while the worker is stopped (port of a-1, with a new resourceVersion).
  await rw.restartAfter(async (dir) => {
    await d1Execute(dir, `UPDATE resources SET spec = json_set(spec, '$.ports.http', 7777), resource_version = resource_version + 1000 WHERE kind = 'WorkloadEntry' AND name = 'a-1'`);
  });
  // Any write makes the fresh publisher run; it reads everything, including the hand edit.
  await applyYaml(serviceEntry("elsewhere-2", "other", true), true);
  const edited = await publishedHead("node:c1/n1");
  assert.ok(edited.version > before.version, "the node's snapshot was republished");
  await assertPublishedAsCompiled("after a restart with a hand edit");

  // Restarted again with nothing changed for n1: its version stays.
  await rw.restartAfter(async () => {});
  await applyYaml(serviceEntry("elsewhere-3", "other", true), true);
  assert.deepEqual(await publishedHead("node:c1/n1"), edited, "unchanged target, unchanged version and hash");
  await assertPublishedAsCompiled("after a restart without changes");
});
