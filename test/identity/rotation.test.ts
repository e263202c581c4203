// The CA generation state machine (src/identity/rotation.ts): staged -> active -> retired -> pruned,
// what signs, what is published, publishUntil, and the bundle sequence (checklist 87, 97).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../../src/core/clock.ts";
import { ConflictError, NotFoundError } from "../../src/core/errors.ts";
import {
  bundleSequence,
  checkStageable,
  dueForPruning,
  extendedPublishUntil,
  nextGenerationId,
  planActivation,
  publishedGenerations,
  signingGeneration,
  statusAt,
  type CaGenerationState,
} from "../../src/identity/rotation.ts";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function gen(id: number, status: CaGenerationState["status"], extra: Partial<CaGenerationState> = {}): CaGenerationState {
  return { id, status, notAfter: 0 + 30 * DAY, activatedAt: null, retiredAt: null, publishUntil: null, ...extra };
}

/** Applies a plan the way the store does. */
function apply(gens: CaGenerationState[], plan: ReturnType<typeof planActivation>): CaGenerationState[] {
  return gens.map((g) => {
    if (g.id === plan.activate.id) return { ...g, status: "active", activatedAt: plan.activate.activatedAt };
    if (plan.retire !== undefined && g.id === plan.retire.id) return { ...g, status: "retired", retiredAt: plan.retire.retiredAt, publishUntil: plan.retire.publishUntil };
    return g;
  });
}

describe("rotation lifecycle", () => {
  test("stage publishes without signing; activate switches signing; the old one stays published until publishUntil, then is pruned", () => {
    const clock = new ManualClock(DAY);
    let gens: CaGenerationState[] = [gen(1, "active", { activatedAt: 0 })];
    assert.equal(bundleSequence(gens, clock.now()), 1);

    checkStageable({ notAfter: 40 * DAY }, clock.now());
    gens = [...gens, gen(nextGenerationId(gens), "staged", { notAfter: 40 * DAY })];
    assert.equal(gens[1]?.id, 2);
    assert.equal(signingGeneration(gens)?.id, 1, "a staged generation does not sign");
    assert.deepEqual(publishedGenerations(gens, clock.now()).map((g) => g.id), [1, 2], "but it is published before it signs");
    assert.equal(bundleSequence(gens, clock.now()), 2, "staging changes the bundle, so the sequence moves");

    clock.advance(HOUR);
    const lastSvidExpiry = clock.now() + 3 * HOUR;
    const plan = planActivation(gens, 2, clock.now(), { lastSignedExpiry: lastSvidExpiry, minPublishMs: HOUR });
    assert.deepEqual(plan.retire, { id: 1, retiredAt: clock.now(), publishUntil: lastSvidExpiry });
    gens = apply(gens, plan);
    assert.equal(signingGeneration(gens)?.id, 2);
    assert.equal(statusAt(gens[0] as CaGenerationState, clock.now()), "retired");
    assert.deepEqual(publishedGenerations(gens, clock.now()).map((g) => g.id), [1, 2]);
    assert.equal(bundleSequence(gens, clock.now()), 2, "activation does not change the bundle's content");

    clock.set(lastSvidExpiry - 1);
    assert.deepEqual(publishedGenerations(gens, clock.now()).map((g) => g.id), [1, 2]);
    assert.deepEqual(dueForPruning(gens, clock.now()), []);
    clock.set(lastSvidExpiry);
    assert.equal(statusAt(gens[0] as CaGenerationState, clock.now()), "pruned");
    assert.deepEqual(publishedGenerations(gens, clock.now()).map((g) => g.id), [2]);
    assert.deepEqual(dueForPruning(gens, clock.now()).map((g) => g.id), [1]);
    assert.equal(bundleSequence(gens, clock.now()), 3, "pruning changes the bundle, so the sequence moves again");
  });

  test("publishUntil is at least activation + the minimum publication time when nothing outlives it", () => {
    const gens = [gen(1, "active"), gen(2, "staged")];
    const plan = planActivation(gens, 2, 10 * HOUR, { lastSignedExpiry: 10 * HOUR + 60_000, minPublishMs: HOUR });
    assert.equal(plan.retire?.publishUntil, 11 * HOUR);
    const none = planActivation(gens, 2, 10 * HOUR, { lastSignedExpiry: null, minPublishMs: HOUR });
    assert.equal(none.retire?.publishUntil, 11 * HOUR);
  });

  test("the very first activation retires nothing", () => {
    const plan = planActivation([gen(1, "staged")], 1, HOUR, { lastSignedExpiry: null, minPublishMs: HOUR });
    assert.equal(plan.retire, undefined);
  });

  test("only a staged, unexpired generation can be activated", () => {
    const gens = [gen(1, "retired", { publishUntil: 5 * HOUR }), gen(2, "active"), gen(3, "staged", { notAfter: 2 * HOUR }), gen(4, "pruned")];
    const o = { lastSignedExpiry: null, minPublishMs: HOUR };
    assert.throws(() => planActivation(gens, 9, HOUR, o), NotFoundError);
    assert.throws(() => planActivation(gens, 2, HOUR, o), (e: unknown) => e instanceof ConflictError && /is active/.test(e.message) && e.field === "generation");
    assert.throws(() => planActivation(gens, 1, HOUR, o), /is retired/);
    assert.throws(() => planActivation(gens, 4, HOUR, o), /is pruned/);
    assert.throws(() => planActivation(gens, 3, 3 * HOUR, o), /is pruned/, "a staged certificate that expired is pruned");
    assert.equal(planActivation(gens, 3, HOUR, o).activate.id, 3);
  });

  test("an expired intermediate cannot be staged", () => {
    assert.throws(() => checkStageable({ notAfter: HOUR }, HOUR), (e: unknown) => e instanceof ConflictError && e.field === "certificatePem");
    assert.doesNotThrow(() => checkStageable({ notAfter: HOUR + 1 }, HOUR));
  });

  test("something signed late by a retired generation extends its publication; other statuses are untouched", () => {
    const retired = gen(1, "retired", { publishUntil: 5 * HOUR });
    assert.equal(extendedPublishUntil(retired, 6 * HOUR), 6 * HOUR);
    assert.equal(extendedPublishUntil(retired, 4 * HOUR), null);
    assert.equal(extendedPublishUntil(gen(2, "active"), 6 * HOUR), null);
  });

  test("the sequence never decreases over a long history of rotations", () => {
    const clock = new ManualClock(0);
    let gens: CaGenerationState[] = [gen(1, "active", { notAfter: 1000 * DAY })];
    let last = bundleSequence(gens, clock.now());
    for (let i = 0; i < 20; i++) {
      gens = [...gens, gen(nextGenerationId(gens), "staged", { notAfter: 1000 * DAY })];
      const staged = bundleSequence(gens, clock.now());
      assert.ok(staged > last);
      last = staged;
      clock.advance(HOUR);
      const beforeActivation = bundleSequence(gens, clock.now());
      assert.ok(beforeActivation >= last);
      gens = apply(gens, planActivation(gens, gens.length, clock.now(), { lastSignedExpiry: null, minPublishMs: 2 * HOUR }));
      assert.equal(bundleSequence(gens, clock.now()), beforeActivation, "activating does not move the sequence");
      last = beforeActivation;
      clock.advance(HOUR);
      const now = bundleSequence(gens, clock.now());
      assert.ok(now >= last);
      last = now;
      assert.equal(gens.filter((g) => g.status === "active").length, 1);
      assert.deepEqual(publishedGenerations(gens, clock.now()).map((g) => g.status), ["retired", "active"]);
    }
  });
});
