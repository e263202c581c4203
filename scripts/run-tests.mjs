#!/usr/bin/env node
// Runs every test file under test/ with Node's test runner (TypeScript via tsx).
// Usage: node scripts/run-tests.mjs [substring-filter ...]
import { spawn } from "node:child_process";
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
const child = spawn(process.execPath, ["--import", "tsx", "--test", "--test-concurrency=2", `--test-timeout=${TEST_TIMEOUT_MS}`, ...files], {
  stdio: ["inherit", "pipe", "inherit"],
  env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false" },
});

// The TAP stream passes through as it comes; every failure is printed again after the totals, with
// its diagnostics, so whoever reads only the end of a long run (a CI excerpt) still sees which test
// failed and why.
const failures = [];
let open = null; // the failure being collected: its lines and the indent of its "not ok" line
let pending = "";
function collect(line) {
  if (open) {
    open.lines.push(line);
    const indent = line.length - line.trimStart().length;
    if (line.trim() === "..." && indent === open.indent + 2) {
      failures.push(open.lines);
      open = null;
    }
    return;
  }
  const m = /^(\s*)not ok \d+ - /.exec(line);
  if (m) open = { lines: [line], indent: m[1].length };
}
child.stdout.on("data", (chunk) => {
  process.stdout.write(chunk);
  pending += chunk.toString("utf8");
  const lines = pending.split("\n");
  pending = lines.pop() ?? "";
  for (const line of lines) collect(line);
});
child.on("close", (code, signal) => {
  if (pending) collect(pending);
  if (open) failures.push(open.lines);
  // A suite fails with its failing test: only the innermost failures are worth repeating.
  const leaves = failures.filter((f) => !/failureType: 'subtestsFailed'/.test(f.join("\n")));
  if (leaves.length > 0) {
    console.log(`\n# ${leaves.length} failing test(s), repeated with their diagnostics:`);
    for (const f of leaves) console.log(f.map((l) => `# ${l}`).join("\n"));
  }
  process.exit(code ?? (signal ? 1 : 0));
});
