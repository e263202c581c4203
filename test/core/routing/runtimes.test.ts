/**
 * One implementation, two runtimes: the routing case table gives identical
 * results on Node, in workerd (a bare worker) and on Deno.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { access } from "node:fs/promises";
import { constants } from "node:fs";
import { join } from "node:path";
import { projectRoot } from "../../support/control-worker.ts";
import { startModuleWorker } from "../../support/workerd-module.ts";
import { runRoutingCases } from "./cases.ts";

let onNode: Record<string, unknown>;

before(() => {
  onNode = JSON.parse(JSON.stringify(runRoutingCases())) as Record<string, unknown>;
});

/** Deno from npm (`@deno/linux-x64-glibc`), else `deno` on PATH; as the conformance suite finds it. */
async function denoBinary(): Promise<string> {
  const candidates = [join(projectRoot, "node_modules/@deno/linux-x64-glibc/deno"), ...(process.env.PATH ?? "").split(":").map((d) => join(d, "deno"))];
  for (const c of candidates) {
    try {
      await access(c, constants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  throw new Error("no Deno binary: `npm ci` installs @deno/linux-x64-glibc on linux-x64; elsewhere put `deno` (2.x) on PATH");
}

test("routing cases prove something on Node", () => {
  const plan = (name: string) => (onNode[name] as { plan: Record<string, unknown> }).plan;
  assert.deepEqual(onNode.issues, []);
  assert.equal(plan("redos").kind, "forward", "the ReDoS header does not match (a+)+$ and falls through");
  assert.equal(plan("redos-match").kind, "direct-response");
  assert.equal((plan("claims").destination as { subset: string }).subset, "v2");
  assert.equal((plan("rewrite-prefix").upstreamRequest as { path: string }).path, "/new/a?b=c");
  assert.equal((plan("regex-rewrite").upstreamRequest as { path: string }).path, "/items/of/cart?x");
  assert.deepEqual([plan("redirect").status, plan("redirect").location], [308, "http://shop.example.com:85/here?x=1"]);
  assert.equal(plan("https-redirect").location, "https://redirect.example.com:8080/p?q");
  assert.equal(plan("no-host").kind, "no-route");
  assert.equal((onNode.cors as { preflight: { kind: string } }).preflight.kind, "respond");
  const w = onNode.weights as Record<string, number>;
  assert.ok(Math.abs((w.v1 ?? 0) - 1000) < 100, JSON.stringify(w));
  const picks = (onNode.default as { picks: string[] }).picks;
  assert.equal(new Set(picks).size, 1, "consistent hash on x-user is sticky");
});

test("workerd gives the same routing results as Node", async () => {
  const worker = await startModuleWorker(`export { default } from ${JSON.stringify(join(projectRoot, "test/core/routing/workerd-entry.ts"))};`);
  try {
    const r = await worker.fetch("/");
    assert.equal(r.status, 200, await r.clone().text());
    assert.deepEqual(await r.json(), onNode);
  } finally {
    await worker.dispose();
  }
});

test("Deno gives the same routing results as Node", async () => {
  const deno = await denoBinary();
  const child = spawn(deno, ["run", "--quiet", "--allow-env", "--config", join(projectRoot, "deno.json"), join(projectRoot, "test/core/routing/deno-entry.ts")], {
    cwd: projectRoot,
    env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  assert.equal(code, 0, stderr);
  assert.deepEqual(JSON.parse(stdout), onNode);
});
