/**
 * The control worker and the edge gateway in ONE Miniflare (real workerd), as deployed: the
 * gateway's CONFIG KV is the control worker's, its CONTROL_IDENTITY service binding reaches the
 * control worker's RPC entrypoint, its RATE_LIMITER Durable Object is live. Bindings come from
 * wrangler.toml (wrangler's own `unstable_getMiniflareWorkerOptions`), the scripts are bundled
 * by `wrangler deploy --dry-run`, and D1 gets the committed migrations. Each worker gets its own
 * 127.0.0.1:0 socket. Tests can reach KV directly (to publish a tampered snapshot).
 */
import { Miniflare, type WorkerOptions } from "miniflare";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { projectRoot } from "./isolated-project.ts";

process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";
process.env.WRANGLER_SEND_METRICS = "false";

const run = promisify(execFile);

/**
 * Bundles a worker exactly as `wrangler deploy` would (wrangler's own esbuild setup, nodejs_compat
 * handling included) with `--dry-run --outdir`, and returns the bundle's path.
 */
export async function bundleWorker(env: string | undefined, outdir: string, root = projectRoot): Promise<string> {
  const args = [join(projectRoot, "node_modules/wrangler/bin/wrangler.js"), "deploy", "--dry-run", "--outdir", outdir, ...(env === undefined ? [] : ["--env", env])];
  await run(process.execPath, args, { cwd: root, env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" } });
  const main = (await readdir(outdir)).find((f) => f.endsWith(".js"));
  if (main === undefined) throw new Error(`wrangler produced no bundle in ${outdir}`);
  return join(outdir, main);
}

/** wrangler.toml's bindings for an environment, without the top-level-only noise wrangler warns about. */
function wranglerOptions(env?: string, root = projectRoot): WorkerOptions {
  const warn = console.warn;
  console.warn = () => undefined;
  try {
    return unstable_getMiniflareWorkerOptions(join(root, "wrangler.toml"), env).workerOptions as WorkerOptions;
  } finally {
    console.warn = warn;
  }
}

/** Applies migrations/*.sql (drizzle's `--> statement-breakpoint` separated statements) in order. */
async function migrate(mf: Miniflare): Promise<void> {
  const db = await mf.getD1Database("DB", "strait-control");
  const dir = join(projectRoot, "migrations");
  for (const file of (await readdir(dir)).filter((f) => f.endsWith(".sql")).sort()) {
    const sql = await readFile(join(dir, file), "utf8");
    for (const stmt of sql.split("--> statement-breakpoint").map((s) => s.trim()).filter((s) => s !== "")) {
      await db.prepare(stmt).run();
    }
  }
}

export interface EdgeMesh {
  mf: Miniflare;
  gatewayUrl: URL;
  controlUrl: URL;
  gateway(path: string, init?: RequestInit): Promise<Response>;
  control(path: string, init?: RequestInit): Promise<Response>;
  /** The shared CONFIG KV namespace. */
  kv(): ReturnType<Miniflare["getKVNamespace"]>;
  dispose(): Promise<void>;
}

export interface EdgeMeshOptions {
  /** Control worker secrets and vars (e.g. a throwaway CA's `vars`). */
  controlVars: Record<string, string>;
  /** Extra gateway vars (OTEL_EXPORTER_OTLP_ENDPOINT, SNAPSHOT_CHECK_SECONDS, ...). */
  gatewayVars?: Record<string, string>;
  /** Receives every line the workers print (console.log), e.g. the gateway's access log. */
  onLine?: (line: string) => void;
  /**
   * Miniflare's `stripCfConnectingIp` for the gateway (default true, Miniflare's default): every
   * subrequest the gateway makes passes through a small worker of Miniflare's that drops
   * `CF-Connecting-IP` and sets `CF-Worker`, as Cloudflare's edge does. False sends subrequests
   * straight to the network (the gateway benchmark's `--outbound direct`).
   */
  stripCfConnectingIp?: boolean;
  /** Opens workerd's inspector (Chrome DevTools protocol) on this port (0 = any), e.g. to CPU-profile the gateway in a benchmark. */
  inspectorPort?: number;
}

export async function startEdgeMesh(o: EdgeMeshOptions): Promise<EdgeMesh> {
  const dir = await mkdtemp(join(tmpdir(), "strait-edge-mesh-"));
  // Developers whose tree holds someone else's half-edited control worker may point this at a
  // clean checkout (e.g. `git archive HEAD`); CI runs from a clean clone and never sets it.
  const controlRoot = process.env.STRAIT_TEST_CONTROL_ROOT ?? projectRoot;
  const [gatewayJs, controlJs] = await Promise.all([bundleWorker(undefined, join(dir, "gateway")), bundleWorker("control", join(dir, "control"), controlRoot)]);
  const g = wranglerOptions();
  const c = wranglerOptions("control", controlRoot);
  const socket = [{ host: "127.0.0.1", port: 0 }];
  const onLine = o.onLine;
  const mf = new Miniflare({
    host: "127.0.0.1",
    port: 0,
    ...(o.inspectorPort === undefined ? {} : { inspectorPort: o.inspectorPort }),
    ...(onLine === undefined
      ? {}
      : {
          handleRuntimeStdio(stdout: Readable, stderr: Readable) {
            for (const stream of [stdout, stderr]) createInterface({ input: stream }).on("line", onLine);
          },
        }),
    workers: [
      {
        ...g,
        name: "strait-gateway",
        modules: [{ type: "ESModule", path: gatewayJs }],
        modulesRoot: dirname(gatewayJs),
        bindings: { ...(g.bindings ?? {}), ...(o.gatewayVars ?? {}) },
        unsafeDirectSockets: socket,
        ...(o.stripCfConnectingIp === undefined ? {} : { stripCfConnectingIp: o.stripCfConnectingIp }),
      } as WorkerOptions,
      {
        ...c,
        name: "strait-control",
        modules: [{ type: "ESModule", path: controlJs }],
        modulesRoot: dirname(controlJs),
        bindings: { ...(c.bindings ?? {}), ...o.controlVars },
        unsafeDirectSockets: socket,
      } as WorkerOptions,
    ],
  });
  try {
    await mf.ready;
    await migrate(mf);
  } catch (err) {
    await mf.dispose();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const gatewayUrl = await mf.unsafeGetDirectURL("strait-gateway");
  const controlUrl = await mf.unsafeGetDirectURL("strait-control");
  return {
    mf,
    gatewayUrl,
    controlUrl,
    gateway: (path, init) => fetch(new URL(path, gatewayUrl), init),
    control: (path, init) => fetch(new URL(path, controlUrl), init),
    kv: () => mf.getKVNamespace("CONFIG", "strait-gateway"),
    dispose: async () => {
      await mf.dispose();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
