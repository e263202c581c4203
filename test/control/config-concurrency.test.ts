import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startControlWorker, type StartedWorker } from "../support/control-worker.ts";
import { createThrowawayCa } from "../support/throwaway-ca.ts";
import { bearer, readJson } from "../support/control-client.ts";

const DR = "/apis/networking.istio.io/v1/namespaces/shop/destinationrules";

let w: StartedWorker;
let admin: Record<string, string>;

before(async () => {
  const ca = await createThrowawayCa();
  w = await startControlWorker({ vars: ca.vars });
  admin = bearer(ca.adminToken);
});
after(async () => {
  await w?.dispose();
});

const json = readJson<Record<string, any>>;

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
  const created = await Promise.all(responses.map(json));
  assert.deepEqual(responses.map((r) => r.status), Array.from({ length: 30 }, () => 201), JSON.stringify(created.filter((b) => b.error !== undefined)));
  const rvs = created.map((b) => Number(b.metadata.resourceVersion));
  assert.equal(new Set(rvs).size, 30, "distinct resourceVersions");
  const revs = await json(await w.fetch(`/v1/revisions?limit=100`, { headers: admin }));
  assert.equal(revs.revisions.filter((r: any) => r.id > before).length, 30);
});

/**
 * The changes to one resource in the revision log after `since`, oldest first.
 * Each is `{revision, before, after}` with the full objects.
 */
async function changesTo(name: string, since: number): Promise<{ revision: number; before: any; after: any }[]> {
  const revs = await json(await w.fetch(`/v1/revisions?limit=500`, { headers: admin }));
  const ids = (revs.revisions as { id: number }[]).map((r) => r.id).filter((id) => id > since).sort((a, b) => a - b);
  const out: { revision: number; before: any; after: any }[] = [];
  for (const id of ids) {
    const detail = await json(await w.fetch(`/v1/revisions/${id}`, { headers: admin }));
    for (const ch of detail.changes) if (ch.kind === "DestinationRule" && ch.namespace === "shop" && ch.name === name) out.push({ revision: id, before: ch.before, after: ch.after });
  }
  return out;
}

/**
 * Writers without a resourceVersion all pass the pre-check against the same
 * state, so only the guarded batch keeps them apart: each landed write must be
 * in the log once, planned against exactly the state the previous one left.
 */
function assertUnbrokenChain(chain: { revision: number; before: any; after: any }[], first: any, final: any): void {
  assert.deepEqual(chain[0]!.before, first, "the first landed change replaced the created object");
  for (let i = 1; i < chain.length; i++) {
    assert.deepEqual(chain[i]!.before, chain[i - 1]!.after, `revision ${chain[i]!.revision} was planned against revision ${chain[i - 1]!.revision}'s result`);
  }
  for (const link of chain) assert.equal(link.after.metadata.resourceVersion, String(link.revision));
  assert.deepEqual(chain[chain.length - 1]!.after, final, "the stored object is the last landed write (last writer wins)");
}

for (const route of ["POST /v1/apply", "PUT"] as const) {
  test(`50 concurrent ${route} writers without resourceVersion race past the pre-check: every landed write is logged once, before/after chained`, async () => {
    const name = route === "PUT" ? "raced-put" : "raced-apply";
    const doc = (writer: number) => ({
      apiVersion: "networking.istio.io/v1",
      kind: "DestinationRule",
      metadata: { name, namespace: "shop" },
      spec: { host: "reviews", subsets: [{ name: `w${writer}`, labels: { writer: String(writer) } }] },
    });
    const created = await w.fetch(DR, { method: "POST", headers: admin, body: JSON.stringify(doc(0)) });
    assert.equal(created.status, 201);
    const first = await json(created);
    const since = Number(first.metadata.resourceVersion);

    const responses = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        route === "PUT"
          ? w.fetch(`${DR}/${name}`, { method: "PUT", headers: admin, body: JSON.stringify(doc(i + 1)) })
          : w.fetch("/v1/apply", { method: "POST", headers: admin, body: JSON.stringify(doc(i + 1)) }),
      ),
    );
    const texts = await Promise.all(responses.map((r) => r.text()));
    const bodies = texts.map((t, i) => {
      assert.match(t, /^\{/, `writer ${i + 1}: status ${responses[i]!.status}: ${t}`);
      return JSON.parse(t) as Record<string, any>;
    });
    const landed = new Map<number, number>(); // revision -> writer
    responses.forEach((r, i) => {
      const b = bodies[i]!;
      if (r.status === 409) {
        // Without a resourceVersion in the request, only the batch guard can say 409.
        assert.equal(b.error.field, "metadata.resourceVersion");
        assert.match(b.error.message, /modified concurrently/);
        return;
      }
      assert.equal(r.status, 200, JSON.stringify(b));
      const revision = route === "PUT" ? Number(b.metadata.resourceVersion) : (b.revision as number);
      assert.ok(revision > since);
      assert.ok(!landed.has(revision), `revision ${revision} was reported to two writers`);
      landed.set(revision, i + 1);
    });
    assert.ok(landed.size >= 1);

    const chain = await changesTo(name, since);
    assert.deepEqual(chain.map((l) => l.revision), [...landed.keys()].sort((a, b) => a - b), "the log has exactly the landed writes");
    for (const link of chain) assert.equal(link.after.spec.subsets[0].labels.writer, String(landed.get(link.revision)), "each logged change is that writer's content");
    const final = await json(await w.fetch(`${DR}/${name}`, { headers: admin }));
    assertUnbrokenChain(chain, first, final);
    assert.equal(final.metadata.generation, 1 + chain.length, "generation counts the spec changes");
  });
}
