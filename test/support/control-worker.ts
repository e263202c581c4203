/**
 * Starts the control worker (or the gateway) in real workerd with its own throwaway local D1 +
 * KV + Durable Objects, migrations applied. Every test file that talks to the control API starts
 * one; ports are picked by the OS (127.0.0.1:0), and every worker has its own project root, build
 * dir and state dir (`isolated-project.ts`), so test files and whole test runs cannot disturb each
 * other.
 *
 * The script is bundled exactly as `wrangler deploy` bundles it (`--dry-run --outdir`), its
 * bindings come from wrangler.toml through wrangler's own `unstable_getMiniflareWorkerOptions`,
 * and it runs in Miniflare with the state layout of `wrangler dev --persist-to` (so
 * `wrangler d1 execute --local --persist-to` reads the same database). Tests reach the worker on
 * its own direct socket: under load, wrangler dev's proxy worker (`unstable_startWorker`) answered
 * concurrent writes with "503 Your worker restarted mid-request" after a connection reset on its
 * extra hop, and held some requests for over a minute.
 */
import { Log, LogLevel, Miniflare, type WorkerOptions } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { Agent, setGlobalDispatcher } from "undici";
import { execFile } from "node:child_process";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { bundleWorker } from "./edge-gateway-mesh.ts";
import { createIsolatedProject, projectRoot } from "./isolated-project.ts";

const run = promisify(execFile);
export { projectRoot };

process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
process.env.WRANGLER_SEND_METRICS = "false";

// workerd's local HTTP server closes kept-alive connections at moments a client cannot see, so a
// pooled connection can be reused just as it closes ("other side closed" on 10-25 % of 50
// concurrent writes in a loaded run). Tests about the API must not fail on that race: a test
// process that starts a worker opens a new connection per request. (undici 7's Agent under Node
// 20's fetch refuses a request that sets content-length itself: let fetch set it.)
setGlobalDispatcher(new Agent({ pipelining: 0 }));

export interface StartedWorker {
  url: URL;
  persistDir: string;
  /** fetch relative to the worker's URL. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** The worker's KV namespace bound as `binding`, through Miniflare (the same store the worker uses). */
  kv(binding: string): Promise<KvNamespaceHandle>;
  dispose(): Promise<void>;
}

/** What tests do with a worker's KV namespace. */
export interface KvNamespaceHandle {
  list(options: { prefix?: string; cursor?: string }): Promise<{ keys: { name: string }[]; list_complete: boolean; cursor?: string }>;
  get(key: string, type: "arrayBuffer"): Promise<ArrayBuffer | null>;
  get(key: string, type: "text"): Promise<string | null>;
  put(key: string, value: string | ArrayBuffer | Uint8Array): Promise<void>;
  delete(key: string): Promise<void>;
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
  let mf: Miniflare | undefined;
  try {
    const persistDir = options.persistDir ?? project.persistDir;
    const [script] = await Promise.all([
      bundleWorker(env, join(project.dir, ".wrangler", "deploy"), project.dir),
      env === "control" && options.persistDir === undefined ? applyMigrations(persistDir, project.dir) : Promise.resolve(),
    ]);
    const base = quietly(() => unstable_getMiniflareWorkerOptions(project.config, env).workerOptions as WorkerOptions);
    const name = base.name ?? "worker";
    mf = new Miniflare({
      host: "127.0.0.1",
      port: 0,
      // wrangler dev --persist-to <dir> keeps its state under <dir>/v3.
      defaultPersistRoot: join(persistDir, "v3"),
      // /cdn-cgi/handler/scheduled, as `wrangler dev --test-scheduled` offers.
      unsafeTriggerHandlers: true,
      // STRAIT_TEST_WORKER_LOG=1 shows what workerd prints (debugging a test).
      ...(process.env.STRAIT_TEST_WORKER_LOG === "1" ? { log: new Log(LogLevel.DEBUG) } : {}),
      workers: [
        {
          ...base,
          name,
          modules: [{ type: "ESModule", path: script }],
          modulesRoot: dirname(script),
          bindings: { ...(base.bindings ?? {}), ...(options.vars ?? {}) },
          unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
        } as WorkerOptions,
      ],
    });
    // Miniflare's entry socket serves /cdn-cgi/handler/* (scheduled events); everything else
    // goes to the worker's own socket.
    const entry = await mf.ready;
    const url = await mf.unsafeGetDirectURL(name);
    const running = mf;
    return {
      url,
      persistDir,
      fetch: (path, init) => fetch(new URL(path, path.startsWith("/cdn-cgi/") ? entry : url), init),
      kv: async (binding) => (await running.getKVNamespace(binding, name)) as unknown as KvNamespaceHandle,
      dispose: async () => {
        await running.dispose();
        // The caller's own persist dir (a restart against the same state) is the caller's to remove.
        await project.remove();
      },
    };
  } catch (err) {
    await mf?.dispose().catch(() => undefined);
    await project.remove();
    throw err;
  }
}

/** wrangler warns about top-level-only config keys when reading an environment; tests don't need that noise. */
function quietly<T>(f: () => T): T {
  const warn = console.warn;
  console.warn = () => undefined;
  try {
    return f();
  } finally {
    console.warn = warn;
  }
}

export function startControlWorker(options: StartControlOptions = {}): Promise<StartedWorker> {
  return startWorker("control", options);
}
