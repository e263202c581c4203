/**
 * The deploy-time var check (src/build/check-vars.ts, run by `npm run deploy:gateway` and
 * `npm run deploy:control` before `wrangler deploy`): the repository's wrangler.toml passes; a copy
 * with a bad var fails naming the var, the section and the file, before anything is deployed.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { projectRoot } from "../support/control-worker.ts";
import { checkControlVars, checkGatewayVars } from "../../src/build/check-vars.ts";

const run = promisify(execFile);
const script = join(projectRoot, "src/build/check-vars.ts");

async function check(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ["--import", "tsx", script, ...args], { cwd: projectRoot, env: { ...process.env, WRANGLER_SEND_METRICS: "false" } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

test("the repository's wrangler.toml passes for both workers", async () => {
  const gateway = await check([]);
  assert.equal(gateway.code, 0, gateway.stderr);
  assert.match(gateway.stdout, /wrangler\.toml \[vars\]: ok/);
  const control = await check(["--env", "control"]);
  assert.equal(control.code, 0, control.stderr);
  assert.match(control.stdout, /wrangler\.toml \[env\.control\.vars\]: ok/);
});

test("a copy with bad vars fails, naming each var, its section and the file", async () => {
  const dir = await mkdtemp(join(tmpdir(), "strait-check-vars-"));
  try {
    let toml = await readFile(join(projectRoot, "wrangler.toml"), "utf8");
    toml = toml.replace('[vars]\nTRUST_DOMAIN = "strait.local"', '[vars]\nTRUST_DOMAIN = "strait.local"\nACCESS_LOG = "maybe"\nOTEL_BSP_SCHEDULE_DELAY = "soon"');
    toml = toml.replace('SNAPSHOT_BLOB_RETENTION_SECONDS = "600"', 'SNAPSHOT_BLOB_RETENTION_SECONDS = "10m"').replace('X509_SVID_TTL_SECONDS = "3600"', 'X509_SVID_TTL_SECONDS = "2d"');
    assert.match(toml, /ACCESS_LOG = "maybe"/);
    assert.match(toml, /SNAPSHOT_BLOB_RETENTION_SECONDS = "10m"/);
    const config = join(dir, "wrangler.toml");
    await writeFile(config, toml);

    const gateway = await check(["--config", config]);
    assert.equal(gateway.code, 1, gateway.stdout + gateway.stderr);
    assert.match(gateway.stderr, /^error: \S+wrangler\.toml \[vars\] ACCESS_LOG: must be one of on, off, got "maybe"$/m);
    assert.match(gateway.stderr, /^warning: \S+wrangler\.toml \[vars\] .*OTEL_BSP_SCHEDULE_DELAY/m);
    assert.match(gateway.stderr, /1 var\(s\) the gateway worker would refuse; nothing was deployed/);

    const control = await check(["--config", config, "--env", "control"]);
    assert.equal(control.code, 1, control.stdout + control.stderr);
    assert.match(control.stderr, /^error: \S+wrangler\.toml \[env\.control\.vars\] X509_SVID_TTL_SECONDS: .*"2d"/m);
    assert.match(control.stderr, /^error: \S+wrangler\.toml \[env\.control\.vars\] SNAPSHOT_BLOB_RETENTION_SECONDS: .*"10m"/m);
    assert.match(control.stderr, /2 var\(s\) the control worker would refuse/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("the checks are the workers' own rules", () => {
  assert.deepEqual(checkGatewayVars({ SNAPSHOT_CHECK_SECONDS: "2", ACCESS_LOG: "OFF" }), { errors: [], warnings: [] });
  assert.deepEqual(checkGatewayVars({ SNAPSHOT_CHECK_SECONDS: "2s" }).errors, ['SNAPSHOT_CHECK_SECONDS: must be a number from 0 to 3600, got "2s"']);
  assert.deepEqual(checkControlVars({ NAMESPACE_MAX_RESOURCES: "5000", TRUST_DOMAIN: "example.org" }).errors, []);
  const bad = checkControlVars({ NAMESPACE_MAX_RESOURCES: "5k", TRUST_DOMAIN: "Not A Domain", K8S_CLUSTERS: "[" });
  assert.equal(bad.errors.length, 3, bad.errors.join("\n"));
  assert.ok(bad.errors.some((e) => e.startsWith("NAMESPACE_MAX_RESOURCES: ")));
  assert.ok(bad.errors.some((e) => e.startsWith("TRUST_DOMAIN: ")));
  assert.ok(bad.errors.some((e) => e.startsWith("K8S_CLUSTERS: ")));
});
