/** Pooled random ids: well-formed, distinct, and fresh across pool refills. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomHexId, randomUuid } from "../../src/core/random-ids.ts";

test("trace and span ids are lowercase hex of the asked length, distinct, and never all zero", () => {
  const seen = new Set<string>();
  // 3,000 ids of 16 + 8 bytes cross the 4 KiB pool many times.
  for (let i = 0; i < 3000; i++) {
    const trace = randomHexId(16);
    const span = randomHexId(8);
    assert.match(trace, /^[0-9a-f]{32}$/);
    assert.match(span, /^[0-9a-f]{16}$/);
    assert.notEqual(trace, "0".repeat(32));
    assert.notEqual(span, "0".repeat(16));
    seen.add(trace);
    seen.add(span);
  }
  assert.equal(seen.size, 6000, "no id repeats");
});

test("UUIDs are version 4, RFC 4122 variant, and distinct; every hex digit occurs", () => {
  const seen = new Set<string>();
  const digits = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const u = randomUuid();
    assert.match(u, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    seen.add(u);
    for (const c of u.replace(/-/g, "")) digits.add(c);
  }
  assert.equal(seen.size, 2000);
  assert.equal(digits.size, 16);
});

test("ids taken right up to a pool boundary and past it stay well formed", () => {
  // Odd sizes shift the offset so some id ends exactly at the pool's end and the next refills.
  for (let i = 0; i < 5000; i++) assert.match(randomHexId(1 + (i % 20)), new RegExp(`^[0-9a-f]{${2 * (1 + (i % 20))}}$`));
});
