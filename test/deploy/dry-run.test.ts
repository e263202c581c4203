import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { projectRoot } from "../support/control-worker.ts";

const run = promisify(execFile);
const wrangler = join(projectRoot, "node_modules/wrangler/bin/wrangler.js");

async function dryRun(env: string | undefined): Promise<{ stdout: string; files: string[]; bundle: string }> {
  const outdir = await mkdtemp(join(tmpdir(), "strait-dry-run-"));
  try {
    const args = [wrangler, "deploy", "--dry-run", "--outdir", outdir, ...(env ? ["--env", env] : [])];
    const { stdout } = await run(process.execPath, args, { cwd: projectRoot, env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" } });
    const files = await readdir(outdir);
    const main = files.find((f) => f.endsWith(".js"));
    assert.ok(main, `a bundled worker in ${files.join(", ")}`);
    return { stdout, files, bundle: await readFile(join(outdir, main), "utf8") };
  } finally {
    await rm(outdir, { recursive: true, force: true });
  }
}

test("wrangler deploy --dry-run bundles the gateway (default environment)", async () => {
  const { stdout, bundle } = await dryRun(undefined);
  assert.match(stdout, /--dry-run: exiting now/);
  assert.match(stdout, /env\.CONFIG/);
  assert.ok(bundle.length > 100);
});

test("wrangler deploy --dry-run --env control bundles the control API with KV and D1", async () => {
  const { stdout, bundle } = await dryRun("control");
  assert.match(stdout, /--dry-run: exiting now/);
  assert.match(stdout, /env\.CONFIG/);
  assert.match(stdout, /env\.DB/);
  assert.match(bundle, /spiffe-bundle/);
});
