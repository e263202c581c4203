/**
 * The publisher's long-poll table (head-waiters.ts): answers, timeouts, the per-credential cap,
 * and ending the first-version waits of targets a run found absent.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { HeadWaiters } from "../../src/control/publishing/head-waiters.ts";

interface Head {
  version: number;
}

test("notify answers only the waits that know an older version", async () => {
  const w = new HeadWaiters<Head>();
  const old = w.wait("t", 1, "c1", 10_000, 4);
  const current = w.wait("t", 2, "c2", 50, 4);
  assert.equal(w.notify("t", { version: 2 }), 1);
  assert.deepEqual(await old, { kind: "head", head: { version: 2 } });
  assert.deepEqual(await current, { kind: "timeout" });
  assert.equal(w.size, 0);
});

test("a credential holds at most its cap of waits", async () => {
  const w = new HeadWaiters<Head>();
  const held = [w.wait("t", 1, "c", 10_000, 2), w.wait("u", 1, "c", 10_000, 2)];
  assert.deepEqual(await w.wait("v", 1, "c", 10_000, 2), { kind: "too-many" });
  assert.equal(w.heldBy("c"), 2);
  w.notify("t", { version: 5 });
  w.notify("u", { version: 5 });
  await Promise.all(held);
  assert.equal(w.heldBy("c"), 0);
});

test("expireAbsent ends first-version waits (known 0) of absent targets begun before the run, and nothing else", async () => {
  const w = new HeadWaiters<Head>();
  const absentFirst = w.wait("gone", 0, "first:a", 10_000, 4);
  const absentKnown = w.wait("gone", 3, "b", 10_000, 4);
  const liveFirst = w.wait("live", 0, "first:c", 10_000, 4);
  await new Promise((r) => setTimeout(r, 5));
  const runStartedAt = Date.now();
  await new Promise((r) => setTimeout(r, 5));
  const absentLate = w.wait("gone", 0, "first:d", 10_000, 4);

  assert.equal(w.expireAbsent(new Set(["live"]), runStartedAt), 1);
  assert.deepEqual(await absentFirst, { kind: "timeout" });
  assert.equal(w.size, 3, "a wait holding a version, a live target's wait and a wait begun after the run stay");
  assert.equal(w.heldBy("first:a"), 0);

  // The run that follows the late wait finds the target absent too.
  assert.equal(w.expireAbsent(new Set(["live"]), Date.now() + 1), 1);
  assert.deepEqual(await absentLate, { kind: "timeout" });
  w.notify("live", { version: 1 });
  w.notify("gone", { version: 4 });
  assert.deepEqual(await liveFirst, { kind: "head", head: { version: 1 } });
  assert.deepEqual(await absentKnown, { kind: "head", head: { version: 4 } });
  assert.equal(w.size, 0);
});
