// strait-proxy runs precompiled (dist/strait-proxy.mjs, built by `prepare`) so no TypeScript
// compiler lives in the proxy process, and falls back to the sources when one is newer.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, statSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { projectRoot } from "../support/isolated-project.ts";
import { runNodeScript, type CliRun } from "../cli/support/run-cli.ts";

const bundle = join(projectRoot, "dist/strait-proxy.mjs");
const inputsFile = join(projectRoot, "dist/strait-proxy.inputs.json");

function staleInput(): string | undefined {
  const built = statSync(bundle).mtimeMs;
  const { inputs } = JSON.parse(readFileSync(inputsFile, "utf8")) as { inputs: string[] };
  return inputs.find((i) => statSync(join(projectRoot, i)).mtimeMs > built);
}

function proxyHelp(): Promise<CliRun> {
  return runNodeScript(join(projectRoot, "bin/strait-proxy.mjs"), ["--help"], { env: { ...process.env, STRAIT_PROXY_TRACE: "1" } });
}

test("after install, strait-proxy runs the prebuilt bundle, not tsx", async () => {
  assert.ok(statSync(bundle, { throwIfNoEntry: false })?.isFile(), "dist/strait-proxy.mjs is missing: `npm ci` (prepare) or `npm run build` builds it");
  if (staleInput() !== undefined) {
    // A source was edited after the install (a working tree, not CI): rebuild as `npm run build` would.
    await promisify(execFile)(process.execPath, ["--import", "tsx", "src/build/build-bins.ts"], { cwd: projectRoot });
    assert.equal(staleInput(), undefined);
  }
  const r = await proxyHelp();
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^Usage: strait-proxy /m);
  assert.match(r.stderr, /^strait-proxy: running the prebuilt .*dist\/strait-proxy\.mjs$/m, r.stderr);
});

test("a bundle older than one of its sources is not used: strait-proxy falls back to the sources through tsx", async () => {
  const { atime, mtime } = statSync(bundle);
  const old = new Date(Date.UTC(2000, 0, 1));
  utimesSync(bundle, old, old);
  try {
    const r = await proxyHelp();
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: strait-proxy /m);
    assert.match(r.stderr, /^strait-proxy: running the sources through tsx \(src\/\S+ is newer than dist\/strait-proxy\.mjs\)$/m, r.stderr);
  } finally {
    utimesSync(bundle, atime, mtime);
  }
});
