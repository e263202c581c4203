/**
 * Enforces the layering rule: src/core and src/identity are runtime-free (Web APIs only),
 * so they run unchanged in workerd, Node and Deno. Runtime specifics (node:*, cloudflare:*,
 * D1/KV types, Deno, wrangler) may appear only in adapters and entry points.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { projectRoot } from "./support/control-worker.ts";

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith(".ts") ? [p] : [];
  });
}

const FORBIDDEN: Array<[RegExp, string]> = [
  [/from\s+["']node:/, "a node: import"],
  [/from\s+["'](fs|path|os|crypto|net|tls|http|https|child_process)["']/, "a Node built-in import"],
  [/from\s+["']cloudflare:/, "a cloudflare: import"],
  [/from\s+["']wrangler["']/, "wrangler"],
  [/from\s+["']drizzle-orm\/d1["']/, "the D1 driver"],
  [/\bD1Database\b|\bKVNamespace\b/, "a Workers binding type"],
  [/\bDeno\./, "the Deno namespace"],
  [/\bprocess\.(env|argv|exit)/, "Node's process object"],
  [/\bBuffer\./, "Node's Buffer"],
  [/\bDate\.now\(\)/, "Date.now() (inject a Clock)"],
];

for (const layer of ["src/core", "src/identity"]) {
  test(`${layer} is runtime-free`, () => {
    const problems: string[] = [];
    for (const file of sources(join(projectRoot, layer))) {
      const text = readFileSync(file, "utf8");
      for (const [re, what] of FORBIDDEN) {
        // The system clock is the one place allowed to read the wall clock.
        if (what.startsWith("Date.now") && file.endsWith(join("src", "core", "clock.ts"))) continue;
        if (re.test(text)) problems.push(`${relative(projectRoot, file)}: ${what}`);
      }
    }
    assert.deepEqual(problems, []);
  });
}
