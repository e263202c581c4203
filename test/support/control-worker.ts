/**
 * Starts the control worker in real workerd (wrangler's `unstable_startWorker`)
 * with its own throwaway local D1 + KV, migrations applied. Every test file that
 * talks to the control API starts one; ports are picked by the OS (127.0.0.1:0),
 * and every worker has its own project root, build dir and state dir
 * (`isolated-project.ts`), so test files and whole test runs cannot disturb each other.
 */
import { unstable_startWorker } from "wrangler";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { createIsolatedProject, projectRoot } from "./isolated-project.ts";

const run = promisify(execFile);
export { projectRoot };

process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
process.env.WRANGLER_SEND_METRICS = "false";

export interface StartedWorker {
  url: URL;
  persistDir: string;
  /** fetch relative to the worker's URL. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  dispose(): Promise<void>;
}

export interface StartControlOptions {
  /** Secrets and vars, passed as `secret_text` bindings (overriding wrangler.toml vars). */
  vars?: Record<string, string>;
  /** Reuse an existing persist dir (e.g. to restart against the same D1/KV). */
  persistDir?: string;
}

/**
 * Applies the D1 migrations to a local persist dir with the real wrangler CLI, from `cwd`
 * (a worker's isolated project dir; default the project root).
 */
export async function applyMigrations(persistDir: string, cwd: string = projectRoot): Promise<void> {
  await run(
    process.execPath,
    [join(projectRoot, "node_modules/wrangler/bin/wrangler.js"), "d1", "migrations", "apply", "DB", "--local", "--env", "control", "--persist-to", persistDir],
    { cwd, env: { ...process.env, CI: "true" } },
  );
}

export async function startWorker(env: "control" | undefined, options: StartControlOptions = {}): Promise<StartedWorker> {
  const project = await createIsolatedProject();
  const persistDir = options.persistDir ?? project.persistDir;
  if (env === "control" && options.persistDir === undefined) await applyMigrations(persistDir, project.dir);
  const bindings = Object.fromEntries(
    Object.entries(options.vars ?? {}).map(([k, v]) => [k, { type: "secret_text" as const, value: v }]),
  );
  const worker = await unstable_startWorker({
    config: project.config,
    ...(env === undefined ? {} : { env }),
    // An explicit, absent env file: wrangler treats [] as "load .dev.vars", and tests must not
    // inherit the developer's local secrets from `npm start`.
    envFiles: [".strait-tests-load-no-env-file"],
    bindings,
    dev: {
      persist: persistDir,
      inspector: false,
      watch: false,
      logLevel: "error",
      server: { hostname: "127.0.0.1", port: 0 },
    },
  });
  await worker.ready;
  const url = await worker.url;
  return {
    url,
    persistDir,
    fetch: (path, init) => fetch(new URL(path, url), init),
    dispose: async () => {
      await worker.dispose();
      // The caller's own persist dir (a restart against the same state) is the caller's to remove.
      await project.remove();
    },
  };
}

export function startControlWorker(options: StartControlOptions = {}): Promise<StartedWorker> {
  return startWorker("control", options);
}
