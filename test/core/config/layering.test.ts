import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const ROOT = join(import.meta.dirname, "../../../src/core/config");

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

test("the config model is runtime-free: Web APIs only, no clock, relative .ts imports", () => {
  const all = files(ROOT);
  assert.ok(all.length > 20);
  for (const f of all) {
    const src = readFileSync(f, "utf8");
    const name = relative(ROOT, f);
    assert.doesNotMatch(src, /from\s+["']node:/, `${name} imports a node: module`);
    assert.doesNotMatch(src, /\b(Date\.now|process\.|Buffer\.|require\()/, `${name} uses a runtime-specific API`);
    for (const m of src.matchAll(/from\s+["']([^"']+)["']/g)) {
      const spec = m[1]!;
      if (spec.startsWith(".")) assert.match(spec, /\.ts$/, `${name}: relative import ${spec} needs .ts`);
      // yaml (parsing) and re2js (RE2, linear time, for every user regex) are pure JS.
      else assert.ok(spec === "yaml" || spec === "re2js", `${name}: only the yaml and re2js packages are allowed, got ${spec}`);
    }
  }
});
