/**
 * Revoking a node republishes the node snapshots, so every other proxy learns the deny
 * list on its next long-poll (not only after the next config change).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startControlWorker, type StartedWorker } from "../support/control-worker.ts";
import { createThrowawayCa, type ThrowawayCa } from "../support/throwaway-ca.ts";
import { bearer, controlClient } from "../support/control-client.ts";
import { bundleKeys, httpSnapshotSource } from "../support/snapshot-client.ts";
import { SnapshotReader } from "../../src/core/snapshot/snapshot-reader.ts";

let w: StartedWorker;
let ca: ThrowawayCa;

type Json = Record<string, any>;
const { attest } = controlClient<Json>(() => w, () => ca.adminToken);

/** Verifies a snapshot head like a node proxy: the manifest's signature against the trust bundle, then every blob against its hash. */
async function verifiedSnapshot(head: Json): Promise<Json> {
  const reader = new SnapshotReader({ source: httpSnapshotSource(w, () => ca.adminToken), target: "node:c1/a", keys: bundleKeys(w), type: "node" });
  return (await reader.verify(head as { version: number; jws: string })) as unknown as Json;
}

before(async () => {
  ca = await createThrowawayCa();
  w = await startControlWorker({ vars: ca.vars });
});
after(async () => {
  await w?.dispose();
});

test("revoking node b wakes node a's long-poll with a snapshot whose deny list names b", async () => {
  const a = await attest("c1", "a");
  const b = await attest("c1", "b");
  const applied = await w.fetch("/v1/apply", {
    method: "POST",
    headers: bearer(ca.adminToken, "application/yaml"),
    body: `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: web-1, namespace: shop, labels: {app: web, strait.io/cluster: c1, strait.io/node: a}}
spec: {address: 10.0.0.1, serviceAccount: web}
`,
  });
  assert.equal(applied.status, 200, await applied.clone().text());

  const first = await w.fetch("/v1/snapshots/nodes/c1/a", { headers: bearer(a.jwt) });
  assert.equal(first.status, 200);
  const v1 = (await first.json()) as Json;
  assert.deepEqual((await verifiedSnapshot(v1)).snapshot.revocations, []);

  const waiting = w.fetch("/v1/snapshots/nodes/c1/a?wait=30", { headers: { ...bearer(a.jwt), "if-none-match": `"${v1.version}"` } });
  await new Promise((r) => setTimeout(r, 500));
  const revoked = await w.fetch("/v1/identity/revocations", { method: "POST", headers: bearer(ca.adminToken), body: JSON.stringify({ spiffeId: b.spiffeId, reason: "node decommissioned" }) });
  assert.equal(revoked.status, 201, await revoked.clone().text());

  const next = await waiting;
  assert.equal(next.status, 200, "the long-poll answers with the new snapshot");
  const v2 = (await next.json()) as Json;
  assert.ok(v2.version > v1.version, `version ${v2.version} > ${v1.version}`);
  const envelope = await verifiedSnapshot(v2);
  assert.equal(envelope.target, "node:c1/a");
  assert.deepEqual(
    envelope.snapshot.revocations.map((r: Json) => r.spiffeId),
    [b.spiffeId],
  );
});
