// Renewal timing: half life ±10 % jitter, capped exponential backoff with jitter. Pure functions, seeded randomness.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { backoffDelay, renewalTime } from "../../src/node-proxy/identity/renewal-schedule.ts";

describe("renewal schedule", () => {
  test("renewal lands within 40-60 % of the lifetime, at 50 % with no jitter", () => {
    const nb = 1_000_000;
    const na = nb + 3_600_000;
    assert.equal(renewalTime(nb, na, () => 0.5), nb + 1_800_000);
    assert.equal(renewalTime(nb, na, () => 0), nb + 1_440_000);
    assert.ok(renewalTime(nb, na, () => 0.999999) <= nb + 2_160_000);
    for (let i = 0; i < 1000; i++) {
      const t = renewalTime(nb, na, Math.random);
      assert.ok(t >= nb + 1_440_000 && t <= nb + 2_160_000, String(t));
    }
  });

  test("backoff doubles from the base, is capped, and is jittered into [d/2, d]", () => {
    const policy = { baseMs: 500, capMs: 30_000 };
    assert.equal(backoffDelay(1, () => 0.999999, policy), 499);
    assert.equal(backoffDelay(1, () => 0, policy), 250);
    assert.equal(backoffDelay(2, () => 0, policy), 500);
    assert.equal(backoffDelay(4, () => 0, policy), 2000);
    assert.equal(backoffDelay(50, () => 0, policy), 15_000, "capped at 30 s before jitter");
    assert.ok(backoffDelay(10_000, Math.random, policy) <= 30_000);
  });
});
