/**
 * Direct SQL against a control worker's local D1 (a persist dir the test owns), with the
 * real wrangler CLI: for state the API deliberately cannot create, such as an API token
 * minted by an older Strait (before API tokens had their own signing key).
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { projectRoot } from "./control-worker.ts";

const run = promisify(execFile);

/** Runs one SQL statement on the `DB` binding persisted in `persistDir` (stop the worker first). */
export async function d1Execute(persistDir: string, sql: string): Promise<void> {
  await run(
    process.execPath,
    [join(projectRoot, "node_modules/wrangler/bin/wrangler.js"), "d1", "execute", "DB", "--local", "--env", "control", "--persist-to", persistDir, "--command", sql],
    { cwd: projectRoot, env: { ...process.env, CI: "true" } },
  );
}
