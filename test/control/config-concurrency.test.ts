import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startControlWorker, type StartedWorker } from "../support/control-worker.ts";
import { createThrowawayCa } from "../support/throwaway-ca.ts";

const DR = "/apis/networking.istio.io/v1/namespaces/shop/destinationrules";

let w: StartedWorker;
let admin: Record<string, string>;

before(async () => {
  const ca = await createThrowawayCa();
  w = await startControlWorker({ vars: ca.vars });
  admin = { authorization: `Bearer ${ca.adminToken}`, "content-type": "application/json" };
});
after(async () => {
  await w?.dispose();
});

async function json(r: Response): Promise<Record<string, any>> {
  return (await r.json()) as Record<string, any>;
}

test("100 concurrent writers on one resource: each 200 with a new resourceVersion or 409; the log holds exactly the landed ones", async () => {
  const created = await w.fetch(DR, {
    method: "POST",
    headers: admin,
    body: JSON.stringify({ apiVersion: "networking.istio.io/v1", kind: "DestinationRule", metadata: { name: "reviews" }, spec: { host: "reviews", subsets: [{ name: "w0", labels: { writer: "0" } }] } }),
  });
  assert.equal(created.status, 201);
  const base = await json(created);
  const startRevision = Number(base.metadata.resourceVersion);

  // Each writer read the same version and sends a different spec.
  const responses = await Promise.all(
    Array.from({ length: 100 }, (_, i) =>
      w.fetch(`${DR}/reviews`, {
        method: "PUT",
        headers: admin,
        body: JSON.stringify({ ...base, spec: { host: "reviews", subsets: [{ name: `w${i + 1}`, labels: { writer: String(i + 1) } }] } }),
      }),
    ),
  );
  const bodies = await Promise.all(responses.map(json));
  const landed: { writer: string; rv: string }[] = [];
  responses.forEach((r, i) => {
    const b = bodies[i]!;
    if (r.status === 200) {
      assert.ok(Number(b.metadata.resourceVersion) > startRevision);
      landed.push({ writer: b.spec.subsets[0].labels.writer, rv: b.metadata.resourceVersion });
    } else {
      assert.equal(r.status, 409, JSON.stringify(b));
      assert.equal(b.error.field, "metadata.resourceVersion");
    }
  });
  assert.ok(landed.length >= 1, "at least one writer lands");
  // Every writer carried the same resourceVersion, so exactly one can win.
  assert.equal(landed.length, 1);
  assert.equal(new Set(landed.map((l) => l.rv)).size, landed.length, "landed writes got distinct resourceVersions");

  const revs = await json(await w.fetch(`/v1/revisions?limit=500`, { headers: admin }));
  const after = revs.revisions.filter((r: any) => r.id > startRevision);
  assert.equal(after.length, landed.length);
  for (const r of after) {
    assert.equal(r.operation, "update");
    assert.equal(r.changes, 1);
    const detail = await json(await w.fetch(`/v1/revisions/${r.id}`, { headers: admin }));
    const change = detail.changes[0];
    assert.equal(change.before.metadata.resourceVersion, String(startRevision));
    assert.equal(change.after.metadata.resourceVersion, String(r.id));
    assert.ok(landed.some((l) => l.writer === change.after.spec.subsets[0].labels.writer));
  }
  const final = await json(await w.fetch(`${DR}/reviews`, { headers: admin }));
  assert.equal(final.metadata.resourceVersion, landed[0]!.rv);
  assert.equal(final.spec.subsets[0].labels.writer, landed[0]!.writer);
});

test("a chain of writers each re-reading before writing: every write lands, none is lost", async () => {
  // 20 writers that retry on 409 with a fresh read: all 20 changes must end up in the log.
  const writer = async (i: number) => {
    for (let attempt = 0; attempt < 200; attempt++) {
      const cur = await json(await w.fetch(`${DR}/reviews`, { headers: admin }));
      const subsets = [...cur.spec.subsets, { name: `chain${i}`, labels: { chain: String(i) } }];
      const r = await w.fetch(`${DR}/reviews`, { method: "PUT", headers: admin, body: JSON.stringify({ ...cur, spec: { ...cur.spec, subsets } }) });
      if (r.status === 200) return;
      assert.equal(r.status, 409);
      await r.body?.cancel();
    }
    throw new Error(`writer ${i} never landed`);
  };
  await Promise.all(Array.from({ length: 20 }, (_, i) => writer(i)));
  const final = await json(await w.fetch(`${DR}/reviews`, { headers: admin }));
  const names = final.spec.subsets.map((s: any) => s.name).filter((n: string) => n.startsWith("chain"));
  assert.equal(names.length, 20, `lost updates: ${JSON.stringify(names)}`);
});

test("concurrent writes to different resources never conflict: each lands as its own revision", async () => {
  const before = (await json(await w.fetch("/v1/revisions?limit=1", { headers: admin }))).revisions[0].id as number;
  const responses = await Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      w.fetch(DR, { method: "POST", headers: admin, body: JSON.stringify({ apiVersion: "networking.istio.io/v1", kind: "DestinationRule", metadata: { name: `svc-${i}` }, spec: { host: `svc-${i}` } }) }),
    ),
  );
  assert.deepEqual(responses.map((r) => r.status), Array.from({ length: 30 }, () => 201));
  const rvs = (await Promise.all(responses.map(json))).map((b) => Number(b.metadata.resourceVersion));
  assert.equal(new Set(rvs).size, 30, "distinct resourceVersions");
  const revs = await json(await w.fetch(`/v1/revisions?limit=100`, { headers: admin }));
  assert.equal(revs.revisions.filter((r: any) => r.id > before).length, 30);
});
