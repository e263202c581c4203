#!/usr/bin/env node
// Runs every test file under test/ with Node's test runner (TypeScript via tsx).
// Usage: node scripts/run-tests.mjs [substring-filter ...]
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === "support" || name === "fixtures" ? [] : walk(p);
    return p.endsWith(".test.ts") ? [p] : [];
  });
}

// A test file (and each test in it) that hangs fails after this long instead of holding the whole run
// (and CI) hostage. Node applies the timeout to each file as a whole too, so it is generous: a
// loaded machine runs some files for several minutes.
const TEST_TIMEOUT_MS = Number(process.env.STRAIT_TEST_TIMEOUT_MS ?? 1_200_000);

const filters = process.argv.slice(2);
const files = walk("test").filter((f) => filters.length === 0 || filters.some((x) => f.includes(x))).sort();
if (files.length === 0) {
  console.error("no test files matched");
  process.exit(1);
}
const res = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-concurrency=2", `--test-timeout=${TEST_TIMEOUT_MS}`, ...files], {
  stdio: "inherit",
  env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
});
process.exit(res.status ?? 1);
