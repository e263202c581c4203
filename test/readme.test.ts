/**
 * The README's curl walkthrough must work exactly as written: this runs the block between
 * `<!-- readme-test:identity -->` markers with bash against the control worker in workerd,
 * from a directory laid out like a checkout after `npm start` (.strait/ca from bootstrap-ca).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { SECRET_FILES, bootstrapCa } from "../scripts/bootstrap-ca.ts";
import { projectRoot, startControlWorker, type StartedWorker } from "./support/control-worker.ts";

const run = promisify(execFile);
let dir: string;
let worker: StartedWorker;

async function readmeBlock(name: string): Promise<string> {
  const readme = await readFile(join(projectRoot, "README.md"), "utf8");
  const m = new RegExp(`<!-- readme-test:${name} -->([\\s\\S]*?)<!-- /readme-test:${name} -->`).exec(readme);
  assert.ok(m?.[1], `README has a readme-test:${name} block`);
  return [...m[1].matchAll(/```sh\n([\s\S]*?)```/g)].map((x) => x[1]).join("\n");
}

before(async () => {
  // Inside the checkout, so `npx strait` resolves to this package's bin as it does for a user.
  await mkdir(join(projectRoot, ".tmp"), { recursive: true });
  dir = await mkdtemp(join(projectRoot, ".tmp", "readme-"));
  await bootstrapCa({ cwd: dir });
  const ca = join(dir, ".strait", "ca");
  const vars: Record<string, string> = {};
  for (const [name, file] of Object.entries(SECRET_FILES)) vars[name] = (await readFile(join(ca, file), "utf8")).trim();
  worker = await startControlWorker({ vars });
});

after(async () => {
  await worker?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test("README identity walkthrough runs as written", async () => {
  const script = await readmeBlock("identity");
  const { stdout } = await run("bash", ["-euo", "pipefail", "-c", script], {
    cwd: dir,
    env: { ...process.env, STRAIT_SERVER: worker.url.href.replace(/\/$/, "") },
    timeout: 120_000,
  });
  const lines = stdout.split("\n");
  assert.ok(lines.includes("spiffe://strait.local/node/local/node-1"), stdout);
  assert.ok(lines.some((l) => /\/node-chain\.pem: OK$/.test(l)), stdout);
  // The walkthrough leaves nothing (least of all the node's private key) in the directory it runs from.
  assert.deepEqual((await readdir(dir)).sort(), [".dev.vars", ".strait"]);
  assert.ok(lines.includes("401"), "the second use of the join token is refused");
  assert.match(stdout, /"x509-svid"/);
  assert.match(stdout, /"jwt-svid"/);
  assert.match(stdout, /spiffe:\/\/strait\.local\/node\/local\/node-1/);
});
