/**
 * The blob collector's rules with a fixed clock: a blob leaves KV only after its retention, only
 * while no holder (a live head, a manifest copy in KV) references it, and it is forgotten as stored
 * before it is deleted; nothing the collector reads back (a stale KV listing, its ledger) is ever
 * taken as stored; the ledger keeps retirement and sweep times across a restart; refused KV calls
 * back off; a sweep finds blobs no holder ever referenced.
 * (The collector inside the publisher, against real KV in workerd: snapshot-blob-gc.test.ts.)
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { BlobCollector, type BlobStore, type RetirementLedger } from "../../src/control/publishing/blob-collector.ts";

const RETENTION = 60_000;
const HOURS_6 = 6 * 60 * 60 * 1000;

/** A ledger and a KV of blob keys in memory, shared by collectors as an object's storage is by its incarnations. */
function world(keys: string[] = [], pageSize = 1000) {
  const ledger = new Map<string, number>();
  const swept: { at: number | undefined } = { at: undefined };
  const kv = new Set(keys);
  const refuse = new Set<string>();
  /** A listing KV answers from an older view (KV list is eventually consistent). */
  const stale: { view: string[] | undefined; lists: number } = { view: undefined, lists: 0 };
  const ledgerApi: RetirementLedger = {
    load: async () => ({ retired: new Map(ledger), sweptAt: swept.at }),
    put: async (entries) => {
      for (const [h, at] of entries) ledger.set(h, at);
    },
    delete: async (hashes) => {
      for (const h of hashes) ledger.delete(h);
    },
    setSweptAt: async (at) => {
      swept.at = at;
    },
  };
  const store: BlobStore = {
    list: async (cursor) => {
      stale.lists++;
      if (refuse.has("*list")) throw new Error("KV list refused");
      const all = [...(stale.view ?? kv)].sort();
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
  return { ledger, swept, kv, refuse, stale, collector };
}

/** A collector whose first pass (the sweep of a fresh object) is done. */
async function swept(w: ReturnType<typeof world>, stored: Set<string>, now: number): Promise<BlobCollector> {
  const c = w.collector(stored);
  await c.load();
  await c.collect(now);
  return c;
}

test("a blob the live head and the KV copy let go stays for the retention, then leaves KV and the stored set; shared blobs stay", async () => {
  const w = world(["a", "shared", "other"]);
  const stored = new Set(["a", "shared", "other"]);
  const c = w.collector(stored);
  for (const holder of ["live:t1", "kv:t1"]) c.hold(holder, ["a", "shared"], 0);
  for (const holder of ["live:t2", "kv:t2"]) c.hold(holder, ["other", "shared"], 0);
  await c.load();
  await c.collect(0); // the first pass sweeps: every key is referenced
  assert.equal(w.ledger.size, 0);

  w.kv.add("b"); // a run writes b and t1's live head moves from a to b
  stored.add("b");
  c.wrote("b");
  c.hold("live:t1", ["b", "shared"], 1_000);
  await c.settle(1_000);
  assert.equal(w.ledger.size, 0, "a is still in KV's manifest copy of t1");
  c.hold("kv:t1", ["b", "shared"], 2_000); // the copy landed
  await c.settle(2_000);
  assert.deepEqual([...w.ledger], [["a", 2_000]], "retired when the last holder let go");
  assert.equal(c.nextPassAt(2_000), 2_000 + RETENTION);

  assert.equal((await c.collect(2_000 + RETENTION - 1)).deleted, 0, "not before the retention ends");
  assert.ok(w.kv.has("a") && stored.has("a"));

  const pass = await c.collect(2_000 + RETENTION);
  assert.equal(pass.deleted, 1);
  assert.deepEqual([...w.kv].sort(), ["b", "other", "shared"]);
  assert.ok(!stored.has("a"), "a run after the delete writes a again if it needs it");
  assert.equal(w.ledger.size, 0);
  assert.deepEqual(c.status(), { live: 3, retired: 0, deletedTotal: 1, lastSweepAt: 0 });
});

test("a retired blob a holder takes again is live again and never deleted", async () => {
  const w = world(["a", "b"]);
  const stored = new Set(["a", "b"]);
  const c = await swept(w, stored, 0);
  c.hold("live:t", ["a"], 0);
  c.hold("live:t", ["b"], 10);
  await c.settle(10);
  assert.ok(w.ledger.has("a"));
  c.hold("live:t", ["a"], 20); // the config flips back within the retention
  await c.settle(20);
  assert.deepEqual([...w.ledger.keys()], ["b"], "a's retirement is withdrawn, b's recorded");
  await c.collect(20 + RETENTION);
  assert.deepEqual([...w.kv], ["a"]);
  assert.ok(stored.has("a") && !stored.has("b"));
});

test("blobs a run wrote that no holder took (a failed target) are retired when the run settles", async () => {
  const w = world([]);
  const stored = new Set<string>();
  const c = await swept(w, stored, 0);
  for (const h of ["x", "y"]) {
    w.kv.add(h);
    stored.add(h);
    c.wrote(h);
  }
  c.hold("live:t", ["x"], 5); // x's target published; y's failed
  await c.settle(5);
  assert.deepEqual([...w.ledger], [["y", 5]]);
  await c.collect(5 + RETENTION);
  assert.deepEqual([...w.kv], ["x"]);
});

test("a stale KV listing that still shows a deleted blob retires it again but never makes it stored", async () => {
  const w = world(["keep", "z"]);
  const stored = new Set(["keep", "z"]);
  const c = await swept(w, stored, 0);
  c.hold("live:t", ["keep", "z"], 0);
  c.hold("live:t", ["keep"], 0);
  await c.settle(0);
  w.stale.view = ["keep", "z"]; // KV's listing lags the delete below
  assert.equal((await c.collect(RETENTION)).deleted, 1);
  assert.ok(!w.kv.has("z") && !stored.has("z"));
  const pass = await c.collect(HOURS_6 + 1); // the next sweep, still answered from the stale view
  assert.equal(pass.swept, 1, "z is listed again");
  assert.ok(!stored.has("z"), "a run that needs z again writes it instead of assuming it stored");
});

test("retirement and sweep times survive a restart; a ledger entry is never taken as stored", async () => {
  const w = world(["old", "new"]);
  const first = await swept(w, new Set(["old", "new"]), 0);
  first.hold("live:t", ["old"], 0);
  first.hold("live:t", ["new"], 100);
  await first.settle(100);

  // Evicted; a new object gives the collector its heads (only "new" is held) and loads the ledger.
  const stored = new Set(["new"]);
  const second = w.collector(stored);
  second.hold("live:t", ["new"], 200);
  await second.load();
  assert.ok(!stored.has("old"), "its delete may have landed before the ledger heard of it");
  assert.equal(second.nextPassAt(200), 100 + RETENTION, "no sweep again before 6 h: the last one's time is in the ledger");
  const pass = await second.collect(100 + RETENTION);
  assert.deepEqual({ deleted: pass.deleted, swept: pass.swept }, { deleted: 1, swept: 0 }, "deleted at 100 + retention, not retention after the restart");
  assert.deepEqual([...w.kv], ["new"]);
});

test("a ledger entry for a blob a holder references (retired, then taken again before a crash) is dropped on load", async () => {
  const w = world(["a"]);
  w.ledger.set("a", 0);
  w.swept.at = 0;
  const c = w.collector(new Set(["a"]));
  c.hold("live:t", ["a"], 0);
  await c.load();
  await c.collect(RETENTION * 10);
  assert.deepEqual([...w.kv], ["a"]);
  assert.equal(w.ledger.size, 0);
});

test("the sweep reads KV a few pages a pass and retires blobs no holder references, which then wait their retention", async () => {
  const keys = Array.from({ length: 7 }, (_, i) => `h${i}`);
  const w = world(keys, 2);
  const c = w.collector(new Set(["h0"]), { pages: 2 });
  c.hold("live:t", ["h0"], 0);
  await c.load();
  assert.equal(c.nextPassAt(0), 0, "a fresh object sweeps at once");
  const p1 = await c.collect(0);
  assert.equal(p1.swept, 3, "pages 1-2: h1, h2, h3 (h0 is live)");
  assert.equal(c.nextPassAt(0), 1_000, "the sweep goes on next pass");
  const p2 = await c.collect(1_000);
  assert.equal(p2.swept, 3, "pages 3-4: h4, h5, h6");
  assert.equal(c.status().lastSweepAt, 1_000);
  assert.equal(w.swept.at, 1_000, "recorded in the ledger");
  assert.equal(p2.deleted, 0);
  const p3 = await c.collect(1_000 + RETENTION);
  assert.equal(p3.deleted, 6);
  assert.deepEqual([...w.kv], ["h0"]);
  assert.equal(c.nextPassAt(1_000 + RETENTION), 1_000 + HOURS_6, "then the next sweep is hours away");
});

test("a delete or a listing KV refuses backs off, stays retired and is tried again", async () => {
  const w = world(["a"]);
  const stored = new Set(["a"]);
  const c = await swept(w, stored, 0);
  c.hold("live:t", ["a"], 0);
  c.hold("live:t", [], 0);
  await c.settle(0);
  w.refuse.add("a");
  const failed = await c.collect(RETENTION);
  assert.deepEqual({ deleted: failed.deleted, failed: failed.failed }, { deleted: 0, failed: 1 });
  assert.ok(w.kv.has("a") && w.ledger.has("a"));
  assert.equal(c.status().retired, 1);
  assert.equal(c.nextPassAt(RETENTION), RETENTION + 5_000, "not at once: 5 s");
  assert.equal((await c.collect(RETENTION + 1)).failed, 0, "a pass inside the backoff does nothing");
  assert.ok(w.kv.has("a"));
  assert.equal((await c.collect(RETENTION + 5_000)).failed, 1);
  assert.equal(c.nextPassAt(RETENTION + 5_000), RETENTION + 15_000, "then 10 s");
  w.refuse.clear();
  assert.equal((await c.collect(RETENTION + 15_000)).deleted, 1);
  assert.equal(w.kv.size, 0);

  // A listing refused: the sweep is not lost, it is tried again after the backoff.
  w.refuse.add("*list");
  const listed = w.stale.lists;
  await c.collect(RETENTION + 15_000 + HOURS_6);
  assert.equal(w.stale.lists, listed + 1);
  assert.equal(c.nextPassAt(RETENTION + 15_000 + HOURS_6), RETENTION + 15_000 + HOURS_6 + 5_000);
  w.refuse.clear();
  w.kv.add("stray");
  assert.equal((await c.collect(RETENTION + 20_000 + HOURS_6)).swept, 1);
});

test("while a holder's blobs are unknown (a KV manifest copy that could not be read back), nothing is deleted", async () => {
  const w = world(["old", "new"]);
  const stored = new Set(["new"]);
  const c = w.collector(stored);
  c.hold("live:t", ["new"], 0);
  c.holdUnknown("kv:t");
  await c.load();
  await c.collect(0); // the sweep retires "old": no holder names it
  assert.ok(w.ledger.has("old"));
  assert.equal((await c.collect(RETENTION * 10)).deleted, 0, "the unknown KV copy may still name it");
  assert.ok(w.kv.has("old"));
  c.hold("kv:t", ["new"], RETENTION * 10); // the copy landed: KV serves "new" now
  assert.equal((await c.collect(RETENTION * 10)).deleted, 1);
  assert.deepEqual([...w.kv], ["new"]);
});
