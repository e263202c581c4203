/**
 * The blob collector's rules with a fixed clock: a blob leaves KV only after its retention, only
 * while no live head references it, and it is forgotten as stored before it is deleted; the ledger
 * keeps retirement times across a restart; a sweep finds blobs no head ever referenced.
 * (The collector inside the publisher, against real KV in workerd: snapshot-blob-gc.test.ts.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { BlobCollector, type BlobStore, type RetirementLedger } from "../../src/control/publishing/blob-collector.ts";

const RETENTION = 60_000;

/** A ledger and a KV of blob keys in memory, shared by collectors as an object's storage is by its incarnations. */
function world(keys: string[] = [], pageSize = 1000) {
  const ledger = new Map<string, number>();
  const kv = new Set(keys);
  const refuse = new Set<string>();
  const ledgerApi: RetirementLedger = {
    load: async () => new Map(ledger),
    put: async (entries) => {
      for (const [h, at] of entries) ledger.set(h, at);
    },
    delete: async (hashes) => {
      for (const h of hashes) ledger.delete(h);
    },
  };
  const store: BlobStore = {
    list: async (cursor) => {
      const all = [...kv].sort();
      const from = cursor === undefined ? 0 : Number(cursor);
      const next = from + pageSize;
      return { hashes: all.slice(from, next), cursor: next < all.length ? String(next) : undefined };
    },
    delete: async (h) => {
      if (refuse.has(h)) throw new Error(`KV refused ${h}`);
      kv.delete(h);
    },
  };
  const collector = (storedBlobs = new Set<string>(), o: { pages?: number } = {}) =>
    new BlobCollector({ retentionMs: RETENTION, ledger: ledgerApi, store, storedBlobs, sweepPagesPerPass: o.pages ?? 5 });
  return { ledger, kv, refuse, collector };
}

/** A collector that already swept (an empty KV listing), so passes only delete. */
async function swept(w: ReturnType<typeof world>, stored: Set<string>, now: number): Promise<BlobCollector> {
  const c = w.collector(stored);
  await c.load();
  await c.collect(now);
  return c;
}

test("a replaced head's blobs stay for the retention, then leave KV and the stored set; shared and live blobs stay", async () => {
  const w = world(["a", "shared", "other"]);
  const stored = new Set(["a", "shared", "other"]);
  const c = w.collector(stored);
  c.adopt(["a", "shared"]); // target 1
  c.adopt(["other", "shared"]); // target 2
  await c.load();
  await c.collect(0); // the first pass sweeps: every key is referenced
  assert.equal(w.ledger.size, 0);

  w.kv.add("b"); // a run writes b and target 1 moves from a to b
  stored.add("b");
  c.wrote("b");
  c.replace(["a", "shared"], ["b", "shared"], 1_000);
  await c.settle(1_000);
  assert.deepEqual([...w.ledger], [["a", 1_000]], "a retired at the time its head was replaced");
  assert.equal(c.nextPassAt(1_000), 1_000 + RETENTION);

  assert.equal((await c.collect(1_000 + RETENTION - 1)).deleted, 0, "not before the retention ends");
  assert.ok(w.kv.has("a") && stored.has("a"));

  const pass = await c.collect(1_000 + RETENTION);
  assert.equal(pass.deleted, 1);
  assert.deepEqual([...w.kv].sort(), ["b", "other", "shared"]);
  assert.ok(!stored.has("a"), "a run after the delete writes a again if it needs it");
  assert.equal(w.ledger.size, 0);
  assert.deepEqual(c.status(), { live: 3, retired: 0, deletedTotal: 1, lastSweepAt: 0 });
});

test("a retired blob a new head references again is live again and never deleted", async () => {
  const w = world(["a", "b"]);
  const stored = new Set(["a", "b"]);
  const c = await swept(w, stored, 0);
  c.replace(undefined, ["a"], 0);
  c.replace(["a"], ["b"], 10);
  await c.settle(10);
  assert.ok(w.ledger.has("a"));
  c.replace(["b"], ["a"], 20); // the config flips back within the retention
  await c.settle(20);
  assert.deepEqual([...w.ledger.keys()], ["b"], "a's retirement is withdrawn, b's recorded");
  await c.collect(20 + RETENTION);
  assert.deepEqual([...w.kv], ["a"]);
  assert.ok(stored.has("a") && !stored.has("b"));
});

test("blobs a run wrote that no head took (a failed target) are retired when the run settles", async () => {
  const w = world([]);
  const stored = new Set<string>();
  const c = await swept(w, stored, 0);
  for (const h of ["x", "y"]) {
    w.kv.add(h);
    stored.add(h);
    c.wrote(h);
  }
  c.replace(undefined, ["x"], 5); // x's target published; y's failed
  await c.settle(5);
  assert.deepEqual([...w.ledger], [["y", 5]]);
  await c.collect(5 + RETENTION);
  assert.deepEqual([...w.kv], ["x"]);
});

test("retirement times survive a restart: the next incarnation deletes on the original schedule", async () => {
  const w = world(["old", "new"]);
  const first = await swept(w, new Set(["old", "new"]), 0);
  first.replace(undefined, ["old"], 0);
  first.replace(["old"], ["new"], 100);
  await first.settle(100);

  // Evicted; a new object loads its heads (only "new" is live) and the ledger.
  const stored = new Set(["new"]);
  const second = w.collector(stored);
  second.adopt(["new"]);
  await second.load();
  assert.ok(stored.has("old"), "a retired blob is still stored until it is deleted");
  const pass = await second.collect(100 + RETENTION);
  assert.equal(pass.deleted, 1, "deleted at 100 + retention, not retention after the restart");
  assert.deepEqual([...w.kv], ["new"]);
});

test("a ledger entry for a blob a live head references (written before a crash) is dropped on load", async () => {
  const w = world(["a"]);
  w.ledger.set("a", 0);
  const stored = new Set(["a"]);
  const c = w.collector(stored);
  c.adopt(["a"]);
  await c.load();
  await c.collect(RETENTION * 10);
  assert.deepEqual([...w.kv], ["a"]);
  assert.equal(w.ledger.size, 0);
});

test("the sweep reads KV a few pages a pass and retires blobs no head references, which then wait their retention", async () => {
  const keys = Array.from({ length: 7 }, (_, i) => `h${i}`);
  const w = world(keys, 2);
  const stored = new Set(["h0"]);
  const c = w.collector(stored, { pages: 2 });
  c.adopt(["h0"]);
  await c.load();
  assert.equal(c.nextPassAt(0), 0, "a fresh object sweeps at once");
  const p1 = await c.collect(0);
  assert.equal(p1.swept, 3, "pages 1-2: h1, h2, h3 (h0 is live)");
  assert.equal(c.nextPassAt(0), 1_000, "the sweep goes on next pass");
  const p2 = await c.collect(1_000);
  assert.equal(p2.swept, 3, "pages 3-4: h4, h5, h6");
  assert.equal(c.status().lastSweepAt, 1_000);
  assert.equal(p2.deleted, 0);
  const p3 = await c.collect(1_000 + RETENTION);
  assert.equal(p3.deleted, 6);
  assert.deepEqual([...w.kv], ["h0"]);
  assert.equal(c.nextPassAt(1_000 + RETENTION), 1_000 + 6 * 60 * 60 * 1000, "then the next sweep is hours away");
});

test("a delete KV refuses stays retired and is tried again", async () => {
  const w = world(["a"]);
  const stored = new Set(["a"]);
  const c = await swept(w, stored, 0);
  c.replace(undefined, ["a"], 0);
  c.replace(["a"], [], 0);
  await c.settle(0);
  w.refuse.add("a");
  const failed = await c.collect(RETENTION);
  assert.deepEqual({ deleted: failed.deleted, failed: failed.failed }, { deleted: 0, failed: 1 });
  assert.ok(w.kv.has("a") && w.ledger.has("a"));
  assert.equal(c.status().retired, 1);
  w.refuse.clear();
  assert.equal((await c.collect(RETENTION + 1)).deleted, 1);
  assert.equal(w.kv.size, 0);
});
