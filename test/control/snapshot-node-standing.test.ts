/**
 * Snapshot reads check the node's standing (attested, not revoked) in the publisher object, from
 * memory (no D1 read per long-poll): in real workerd, a node revoked through the API loses its
 * snapshot and its blobs at once (401 naming Authorization), a long-poll it holds while being
 * revoked answers 401 instead of the new version, a node attested after the publisher last ran
 * is recognised, and other nodes keep reading.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startControlWorker, type StartedWorker } from "../support/control-worker.ts";
import { createThrowawayCa, type ThrowawayCa } from "../support/throwaway-ca.ts";
import { bearer, controlClient, type AttestedNode } from "../support/control-client.ts";

type Json = Record<string, any>;
let w: StartedWorker;
let ca: ThrowawayCa;
const control = controlClient<Json>(() => w, () => ca.adminToken);

const CONFIG = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: a, namespace: shop}
spec: {hosts: [a], location: MESH_INTERNAL, resolution: STATIC, ports: [{number: 80, name: http, protocol: HTTP}], endpoints: [{address: 10.0.0.1}]}`;

before(async () => {
  ca = await createThrowawayCa();
  w = await startControlWorker({ vars: { ...ca.vars, SNAPSHOT_LONGPOLL_MAX_SECONDS: "20" } });
  const r = await w.fetch("/v1/apply?wait=30", { method: "POST", headers: bearer(ca.adminToken, "application/yaml"), body: CONFIG });
  assert.equal(r.status, 200, await r.text());
});
after(async () => {
  await w?.dispose();
});

async function head(n: AttestedNode, name: string, known?: number, wait?: number): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${n.jwt}` };
  if (known !== undefined) headers["if-none-match"] = `"${known}"`;
  return w.fetch(`/v1/snapshots/nodes/c1/${name}${wait === undefined ? "" : `?wait=${wait}`}`, { headers });
}

async function revoke(n: AttestedNode): Promise<void> {
  const r = await control.api("/v1/identity/revocations", { token: ca.adminToken, json: { spiffeId: n.spiffeId, reason: "test" } });
  assert.equal(r.status, 201, r.text);
}

test("a node attested after the publisher's last run reads its snapshot; once revoked, its snapshot and blobs are refused with 401", async () => {
  const a = await control.attest("c1", "standing-a");
  const b = await control.attest("c1", "standing-b");
  const first = await head(a, "standing-a");
  assert.equal(first.status, 200, await first.clone().text());
  const body = (await first.json()) as Json;
  const blobHash = JSON.parse(Buffer.from((body.jws as string).split(".")[1]!, "base64url").toString()).base as string;
  assert.equal((await w.fetch(`/v1/snapshots/blobs/${blobHash}`, { headers: { authorization: `Bearer ${a.jwt}` } })).status, 200);

  await revoke(a);
  const refused = await head(a, "standing-a");
  assert.equal(refused.status, 401);
  const err = ((await refused.json()) as Json).error;
  assert.equal(err.field, "Authorization");
  assert.match(err.message, /has been revoked/);
  const blob = await w.fetch(`/v1/snapshots/blobs/${blobHash}`, { headers: { authorization: `Bearer ${a.jwt}` } });
  assert.equal(blob.status, 401);
  assert.match(((await blob.json()) as Json).error.message, /has been revoked/);
  // Other nodes are not affected.
  assert.equal((await head(b, "standing-b")).status, 200);
});

test("a long-poll held while its node is revoked answers 401, not the new version", async () => {
  const c = await control.attest("c1", "standing-c");
  const d = await control.attest("c1", "standing-d");
  const cur = (await (await head(c, "standing-c")).json()) as Json;
  const curD = (await (await head(d, "standing-d")).json()) as Json;
  const waitingC = head(c, "standing-c", cur.version as number, 15);
  const waitingD = head(d, "standing-d", curD.version as number, 15);
  await new Promise((r) => setTimeout(r, 300));
  // The revocation changes every node snapshot (they carry the deny list): d gets it, c does not.
  await revoke(c);
  const [rc, rd] = await Promise.all([waitingC, waitingD]);
  assert.equal(rc.status, 401, await rc.clone().text());
  assert.equal(rd.status, 200, await rd.clone().text());
  assert.ok(((await rd.json()) as Json).version > (curD.version as number));
});
