/**
 * The README's gateway walkthrough must work exactly as written: this runs the block between
 * `<!-- readme-test:edge-gateway -->` markers with bash, from a directory laid out like a checkout
 * after `npm start` (.strait/ca from bootstrap-ca), against the control worker and the gateway in
 * workerd, with OS-picked ports in STRAIT_SERVER, STRAIT_GATEWAY and UPSTREAM_PORT.
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { SECRET_FILES, bootstrapCa } from "../../scripts/bootstrap-ca.ts";
import { projectRoot } from "../support/isolated-project.ts";
import { startEdgeMesh, type EdgeMesh } from "../support/edge-gateway-mesh.ts";
import { closedPort } from "../support/edge-gateway-upstreams.ts";

const run = promisify(execFile);
let dir: string;
let mesh: EdgeMesh;

async function docBlock(name: string): Promise<string> {
  const doc = await readFile(join(projectRoot, "README.md"), "utf8");
  const m = new RegExp(`<!-- readme-test:${name} -->([\\s\\S]*?)<!-- /readme-test:${name} -->`).exec(doc);
  assert.ok(m?.[1], `README.md has a readme-test:${name} block`);
  return [...m[1].matchAll(/```sh\n([\s\S]*?)```/g)].map((x) => x[1]).join("\n");
}

before(async () => {
  // Inside the checkout, so `npx strait` resolves to this package's bin as it does for a user.
  await mkdir(join(projectRoot, ".tmp"), { recursive: true });
  dir = await mkdtemp(join(projectRoot, ".tmp", "edge-walkthrough-"));
  await bootstrapCa({ cwd: dir });
  const ca = join(dir, ".strait", "ca");
  const vars: Record<string, string> = {};
  for (const [name, file] of Object.entries(SECRET_FILES)) vars[name] = (await readFile(join(ca, file), "utf8")).trim();
  mesh = await startEdgeMesh({ controlVars: vars });
});

after(async () => {
  await mesh?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test("README edge-gateway walkthrough runs as written", async () => {
  const script = await docBlock("edge-gateway");
  const { stdout } = await run("bash", ["-euo", "pipefail", "-c", script], {
    cwd: dir,
    env: {
      ...process.env,
      STRAIT_SERVER: mesh.controlUrl.href.replace(/\/$/, ""),
      STRAIT_GATEWAY: mesh.gatewayUrl.href.replace(/\/$/, ""),
      UPSTREAM_PORT: String(await closedPort()),
    },
    timeout: 120_000,
  });
  const lines = stdout.split("\n");
  assert.ok(lines.includes("hello from the upstream: GET /hello?name=strait"), stdout);
  assert.ok(lines.includes("404 NR"), stdout);
});
