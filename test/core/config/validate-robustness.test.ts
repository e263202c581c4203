import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { analyze } from "../../../src/core/config/analyze.ts";
import { parseDocuments } from "../../../src/core/config/parse-documents.ts";
import type { AnyResource } from "../../../src/core/config/resource.ts";
import { validateResource } from "../../../src/core/config/validate.ts";

const FIXTURES = join(import.meta.dirname, "../../fixtures/istio");

/** Small deterministic PRNG (mulberry32) so a failure can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const JUNK: unknown[] = [null, 0, -1, 1.5, 70000, "", "*", "x", "Ünïcode", true, [], [null], {}, { exact: 1 }, [{}], "1ms", "(?=x)", "10.0.0.0/8", { "": "" }];

/** Replaces one randomly chosen node (object field, list item or map value) with junk. */
function mutate(value: unknown, rand: () => number): unknown {
  const nodes: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        nodes.push({ parent: v, key: i });
        walk(x);
      });
    } else if (typeof v === "object" && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        nodes.push({ parent: v as Record<string, unknown>, key: k });
        walk(x);
      }
    }
  };
  const copy = structuredClone(value);
  walk(copy);
  const target = nodes[Math.floor(rand() * nodes.length)];
  if (target !== undefined) (target.parent as Record<string | number, unknown>)[target.key] = JUNK[Math.floor(rand() * JUNK.length)];
  return copy;
}

test("validateResource and analyze never throw on mutated Istio examples (2000 seeded mutations)", () => {
  const docs = readdirSync(FIXTURES)
    .filter((f) => f.endsWith(".yaml"))
    .flatMap((f) => parseDocuments(readFileSync(join(FIXTURES, f), "utf8")));
  const rand = rng(20260422);
  const accepted: AnyResource[] = [];
  let refused = 0;
  for (let i = 0; i < 2000; i++) {
    const doc = mutate(docs[i % docs.length], rand);
    let result: ReturnType<typeof validateResource>;
    try {
      result = validateResource(doc);
    } catch (err) {
      assert.fail(`mutation ${i} threw ${String(err)} for ${JSON.stringify(doc)}`);
    }
    if (result.ok) accepted.push(result.resource);
    else {
      refused++;
      for (const e of result.errors) {
        assert.equal(typeof e.path, "string");
        assert.ok(e.message.length > 0, `mutation ${i}: empty message at ${e.path}`);
      }
    }
  }
  assert.ok(refused > 500, `most junk must be refused (refused ${refused})`);
  assert.ok(accepted.length > 100, "some mutations stay valid");
  assert.doesNotThrow(() => analyze(accepted));
});
