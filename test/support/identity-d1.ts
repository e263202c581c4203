/**
 * Direct SQL against a control worker's local D1 (a persist dir the test owns), with the
 * real wrangler CLI: for state the API deliberately cannot create, such as an API token
 * minted by an older Strait (before API tokens had their own signing key), or a renewal
 * nonce issued longer ago than its lifetime (the worker has no clock a test can move).
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { applyMigrations, projectRoot, startControlWorker, type StartedWorker } from "./control-worker.ts";

const run = promisify(execFile);

/** Runs one SQL statement on the `DB` binding persisted in `persistDir`; returns its result rows. Writes: stop the worker first. */
export async function d1Execute(persistDir: string, sql: string): Promise<Record<string, unknown>[]> {
  const { stdout } = await run(
    process.execPath,
    [join(projectRoot, "node_modules/wrangler/bin/wrangler.js"), "d1", "execute", "DB", "--local", "--env", "control", "--persist-to", persistDir, "--json", "--command", sql],
    { cwd: projectRoot, env: { ...process.env, CI: "true" }, maxBuffer: 16 * 1024 * 1024 },
  );
  return (JSON.parse(stdout) as { results?: Record<string, unknown>[] }[])[0]?.results ?? [];
}

/**
 * A control worker on a persist dir the test owns, so it can be stopped, its D1 edited with
 * {@link d1Execute}, and started again on the same state. `worker` is the running one.
 */
export interface RestartableControlWorker {
  readonly worker: StartedWorker;
  readonly persistDir: string;
  /** Stops the worker, runs `edit` on its stopped state, starts it again (same vars, same D1/KV). */
  restartAfter(edit: (persistDir: string) => Promise<void>): Promise<void>;
  /** Stops the worker and removes its state. */
  dispose(): Promise<void>;
}

export async function startRestartableControlWorker(vars: Record<string, string>): Promise<RestartableControlWorker> {
  const persistDir = await mkdtemp(join(tmpdir(), "strait-d1-persist-"));
  let worker: StartedWorker | undefined;
  try {
    await applyMigrations(persistDir);
    worker = await startControlWorker({ vars, persistDir });
  } catch (err) {
    await rm(persistDir, { recursive: true, force: true });
    throw err;
  }
  let current: StartedWorker | undefined = worker;
  return {
    get worker(): StartedWorker {
      if (current === undefined) throw new Error("the control worker is stopped");
      return current;
    },
    persistDir,
    async restartAfter(edit) {
      const stopping = current;
      current = undefined;
      await stopping?.dispose();
      await edit(persistDir);
      current = await startControlWorker({ vars, persistDir });
    },
    async dispose() {
      const stopping = current;
      current = undefined;
      try {
        await stopping?.dispose();
      } finally {
        await rm(persistDir, { recursive: true, force: true });
      }
    },
  };
}
