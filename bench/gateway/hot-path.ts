/**
 * CPU per request of the gateway's request path inside workerd, without sockets: the gateway's
 * `handle` runs in a loop (the throughput bench's configuration, access log off, no exporter)
 * against a stand-in `fetch` that does what fetch does with its arguments (a Request from the
 * URL and init) and answers like the bench's upstream; a bare loop does the bare forwarding
 * worker's work against the same stand-in. The figure is workerd's CPU time (/proc) per
 * iteration, median over interleaved repetitions.
 *
 * For comparing changes on a shared machine, where the throughput bench's figures move by
 * +-5 %: `--root <tree>` (repeatable) builds the loop from other source trees (e.g. a
 * `git archive HEAD src test` checkout with a node_modules link) into the SAME workerd, and the
 * repetitions alternate between them; the per-repetition ratio to the first tree is printed.
 *
 *   node --import tsx bench/gateway/hot-path.ts [--iterations 5000] [--reps 12] [--root <tree>]...
 */
import { build } from "esbuild";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";
import { benchConfigYaml, BENCH_HOST } from "./bench-config.ts";
import { processCpuMs, workerdChildren } from "./process-cpu.ts";

const REPO = resolve(fileURLToPath(new URL("../..", import.meta.url)));

/** The worker: the gateway built from `root`'s sources (absolute imports, so any tree can be bundled). */
function workerSource(root: string): string {
  const at = (p: string) => JSON.stringify(join(root, p));
  return `
import { gatewaySnapshot } from ${at("test/core/routing/fixtures.ts")};
import { compileGateway } from ${at("src/edge-gateway/gateway/compiled-gateway.ts")};
import { EdgeGateway } from ${at("src/edge-gateway/gateway/edge-gateway.ts")};
import { GatewayTelemetry } from ${at("src/edge-gateway/gateway/gateway-telemetry.ts")};
import { InMemoryRateLimiter } from ${at("src/edge-gateway/rate-limit/rate-limiter.ts")};
import { sleep } from ${at("src/edge-gateway/gateway/platform.ts")};
import { createJwksResolver } from ${at("src/core/policy/index.ts")};
import { systemClock } from ${at("src/core/clock.ts")};

let gateway;
function gatewayOnce() {
  if (gateway !== undefined) return gateway;
  const snapshot = gatewaySnapshot(${JSON.stringify(benchConfigYaml(9))});
  const compiled = compileGateway({ target: "gateway", version: 1, revision: 1, hash: "bench", snapshot }, { jwks: createJwksResolver({ clock: systemClock, fetch: (i, n) => fetch(i, n) }), clock: systemClock });
  const state = { ready: () => compiled, current: async () => compiled, status: () => ({ version: 1 }) };
  const telemetry = new GatewayTelemetry({ accessLog: false }, () => Date.now(), (r) => fetch(r));
  gateway = new EdgeGateway({ state, telemetry, trustDomain: "strait.local" });
  return gateway;
}
function standInFetch(input, init) {
  void new Request(input, init).headers;
  return Promise.resolve(new Response("ok", { headers: { "content-type": "text/plain", "content-length": "2" } }));
}
// As the Workers entry's platform: workerd's fetch takes Host from the URL.
const platform = { clock: systemClock, rateLimiter: new InMemoryRateLimiter(() => Date.now()), sleep, fetch: standInFetch, waitUntil() {}, accessLog() {}, hostFromUrl: true };

export default {
  async fetch(request) {
    const q = new URL(request.url).searchParams;
    const n = Number(q.get("n") ?? "1000");
    const req = new Request("http://${BENCH_HOST}:8788/bench", { headers: { host: "${BENCH_HOST}", connection: "keep-alive" } });
    let status = 0;
    if (q.get("mode") === "bare") {
      for (let i = 0; i < n; i++) {
        const url = new URL(req.url);
        status += (await standInFetch("http://127.0.0.1:9" + url.pathname + url.search, { method: req.method, headers: req.headers, body: req.body })).status;
      }
    } else {
      const g = gatewayOnce();
      for (let i = 0; i < n; i++) {
        const url = new URL(req.url);
        status += (await g.handle(req, platform, { url, pathname: url.pathname })).status;
      }
    }
    return new Response(String(status / n));
  },
};`;
}

function args(name: string): string[] {
  const out: string[] = [];
  process.argv.forEach((a, i) => {
    if (a === `--${name}` && process.argv[i + 1] !== undefined) out.push(process.argv[i + 1]!);
  });
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

const iterations = Number(args("iterations")[0] ?? "5000");
const reps = Number(args("reps")[0] ?? "12");
const roots = [REPO, ...args("root").map((r) => resolve(r))];
const dir = await mkdtemp(join(tmpdir(), "strait-hot-path-"));
try {
  const workers = [];
  for (const [i, root] of roots.entries()) {
    await writeFile(join(dir, `entry-${i}.js`), workerSource(root));
    await build({ entryPoints: [join(dir, `entry-${i}.js`)], bundle: true, format: "esm", outfile: join(dir, `worker-${i}.js`), platform: "neutral", mainFields: ["module", "main"], conditions: ["workerd", "worker", "browser"], keepNames: true, logLevel: "error" });
    workers.push({ name: `w${i}`, modules: [{ type: "ESModule" as const, path: join(dir, `worker-${i}.js`) }], modulesRoot: dir, compatibilityDate: "2026-04-01", unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }] });
  }
  const before = new Set(await workerdChildren());
  const mf = new Miniflare({ host: "127.0.0.1", port: 0, workers });
  try {
    await mf.ready;
    const pid = (await workerdChildren()).find((p) => !before.has(p));
    if (pid === undefined) throw new Error("cannot find the workerd process (needs /proc)");
    const urls = await Promise.all(workers.map((w) => mf.unsafeGetDirectURL(w.name)));
    const run = async (i: number, mode: "gateway" | "bare"): Promise<number> => {
      const c0 = await processCpuMs(pid);
      const body = await (await fetch(new URL(`/?n=${iterations}&mode=${mode}`, urls[i]))).text();
      if (body !== "200") throw new Error(`worker ${i} (${mode}) answered ${body}`);
      return (((await processCpuMs(pid)) - c0) * 1000) / iterations;
    };
    for (let i = 0; i < roots.length; i++) await run(i, "gateway");
    await run(0, "bare");
    const cpu = roots.map(() => [] as number[]);
    const rel = roots.map(() => [] as number[]);
    const bare: number[] = [];
    for (let r = 0; r < reps; r++) {
      const order = roots.map((_, i) => i);
      if (r % 2 === 1) order.reverse();
      const got: number[] = [];
      for (const i of order) got[i] = await run(i, "gateway");
      got.forEach((x, i) => {
        cpu[i]!.push(x);
        rel[i]!.push(x / got[0]!);
      });
      bare.push(await run(0, "bare"));
    }
    console.log(`gateway request path in workerd, CPU microseconds per request (median of ${reps} repetitions of ${iterations}):`);
    roots.forEach((root, i) => console.log(`  ${root}: ${median(cpu[i]!).toFixed(1)} us${i === 0 ? "" : ` (${median(rel[i]!).toFixed(3)}x the first, per repetition)`}`));
    console.log(`  bare forwarding loop: ${median(bare).toFixed(1)} us`);
  } finally {
    await mf.dispose();
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
