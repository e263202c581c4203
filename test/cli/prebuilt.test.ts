import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, statSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { projectRoot } from "../support/control-worker.ts";
import { show, strait } from "./support/run-cli.ts";

const bundle = join(projectRoot, "dist/cli.mjs");
const inputsFile = join(projectRoot, "dist/cli.inputs.json");

/** The first source newer than the bundle, if any (what bin/strait.mjs checks). */
function staleInput(): string | undefined {
  const built = statSync(bundle).mtimeMs;
  const { inputs } = JSON.parse(readFileSync(inputsFile, "utf8")) as { inputs: string[] };
  return inputs.find((i) => statSync(join(projectRoot, i)).mtimeMs > built);
}

test("the precompiled CLI exists after install and `strait --help` runs it, not tsx", async () => {
  // `prepare` builds it on `npm ci` / `npm install`.
  assert.ok(statSync(bundle, { throwIfNoEntry: false })?.isFile(), "dist/cli.mjs is missing: `npm ci` (prepare) or `npm run build:cli` builds it");
  const stale = staleInput();
  if (stale !== undefined) {
    // A source was edited after the install (a working tree, not CI): rebuild as `npm run build:cli` would.
    console.log(`${stale} is newer than dist/cli.mjs: rebuilding`);
    await promisify(execFile)(process.execPath, ["--import", "tsx", "src/cli/bundle-cli.ts"], { cwd: projectRoot });
    assert.equal(staleInput(), undefined);
  }
  const started = process.hrtime.bigint();
  const r = await strait(["--help"], { env: { STRAIT_CLI_TRACE: "1" } });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  console.log(`strait --help through bin/strait.mjs (prebuilt): ${ms.toFixed(0)} ms wall, process spawn included`);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /^Usage: strait /);
  assert.match(r.stderr, /^strait: running the prebuilt .*dist\/cli\.mjs$/m, show(r));
  assert.ok(ms < 30_000, "a sanity bound only; the figure is in docs/cli.md");
});

test("a bundle older than one of its sources is not used: the CLI falls back to the sources through tsx", async () => {
  const { atime, mtime } = statSync(bundle);
  const old = new Date(Date.UTC(2000, 0, 1));
  utimesSync(bundle, old, old);
  try {
    const r = await strait(["--version"], { env: { STRAIT_CLI_TRACE: "1" } });
    assert.equal(r.code, 0, show(r));
    assert.equal(r.stdout, "0.1.0\n");
    assert.match(r.stderr, /^strait: running the sources through tsx \(src\/\S+ is newer than dist\/cli\.mjs\)$/m, show(r));
  } finally {
    utimesSync(bundle, atime, mtime);
  }
});
