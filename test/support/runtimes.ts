/**
 * Running one runtime-free suite on every runtime: the Deno binary (from npm, else PATH), a
 * one-file entry run on Deno with JSON in and out, and the same entry served by workerd.
 * Used by the conformance, routing, policy and edge-gateway suites.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { constants } from "node:fs";
import { access } from "node:fs/promises";
import { join } from "node:path";
import { projectRoot } from "./isolated-project.ts";
import { startModuleWorker } from "./workerd-module.ts";

/** Deno from npm (`@deno/linux-x64-glibc`, an optional dependency), else a `deno` on PATH. */
export async function denoBinary(): Promise<string> {
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

/** Runs `entry` (relative to the project root) with `deno run`, `input` as JSON on stdin; resolves to its JSON stdout. */
export async function runOnDeno(entry: string, input?: unknown): Promise<unknown> {
  const child = spawn(await denoBinary(), ["run", "--quiet", "--allow-env", "--config", join(projectRoot, "deno.json"), join(projectRoot, entry)], {
    cwd: projectRoot,
    env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(input === undefined ? "" : JSON.stringify(input));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  assert.equal(code, 0, stderr);
  return JSON.parse(stdout) as unknown;
}

/** Serves `entry` (a module whose default export is a fetch handler) in workerd and POSTs `input`; resolves to the JSON answer. */
export async function runInWorkerd(entry: string, input?: unknown): Promise<unknown> {
  const worker = await startModuleWorker(`export { default } from ${JSON.stringify(join(projectRoot, entry))};`);
  try {
    const r = await worker.fetch("/", input === undefined ? {} : { method: "POST", body: JSON.stringify(input) });
    assert.equal(r.status, 200, await r.clone().text());
    return (await r.json()) as unknown;
  } finally {
    await worker.dispose();
  }
}
