/**
 * `npm run bench proxy`: workload -> outbound proxy -> HBONE (mutual TLS 1.3, HTTP/2 CONNECT) ->
 * inbound proxy -> workload, against the direct path and against the same two hops through
 * two nginx speaking mTLS (../shared/peers/nginx-two-hop.sh), in one run. Each path gets a fixed
 * 1,000 rps (autocannon) and saturation (wrk), keep-alive, 1 KiB request and response bodies.
 * Prints rps, added p50/p99 over the direct path, CPU seconds per 1,000 requests per proxy
 * (/proc/<pid>/stat of each proxy process), peak RSS (VmHWM) with a 1,000-service snapshot, and
 * the ratios to nginx.
 *
 * Needs: wrk and nginx (Debian `wrk`, `nginx-light`).
 */
import { execFile, fork, type ChildProcess } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import os, { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createStaticCa, nodeSnapshots, parseResources } from "./static-mesh.ts";
import { meshYaml } from "./two-nodes.ts";
import { cpuSeconds, fixedRate, peakRssMb, saturate, type LoadResult, type Target } from "./load.ts";
import type { ProxyProcessInput } from "./proxy-process.ts";

const run = promisify(execFile);
const here = dirname(fileURLToPath(import.meta.url));
const projectRoot = resolve(here, "../..");
const NGINX_SCRIPT = resolve(projectRoot, "../shared/peers/nginx-two-hop.sh");
const SERVICE_HOST = "echo.shop.svc.cluster.local";

export interface BenchProxyOptions {
  /** Seconds per load phase (default 10). */
  seconds?: number;
  /** Fixed rate (default 1000 rps). */
  rps?: number;
  /** Extra services in the snapshot (default 1000). */
  services?: number;
}

type Message = { kind: string; [k: string]: unknown };

/**
 * The proxy processes run from one esbuild bundle of proxy-process.ts (plain JavaScript, as
 * `strait-proxy` ships: bin/strait-proxy.mjs runs dist/strait-proxy.mjs). `BENCH_PROXY_BUNDLE=0`
 * runs them through tsx instead, whose loader thread and on-the-fly transpiling add about 45 MB
 * of RSS and a `__name` call per named closure.
 */
async function bundleProxy(dir: string): Promise<string> {
  const out = join(dir, "proxy-process.mjs");
  await run(resolve(projectRoot, "node_modules/.bin/esbuild"), [
    join(here, "proxy-process.ts"),
    "--bundle",
    "--platform=node",
    "--format=esm",
    "--target=node20",
    `--outfile=${out}`,
    "--log-level=warning",
    "--banner:js=import { createRequire as __strait_createRequire } from 'node:module'; const require = __strait_createRequire(import.meta.url);",
  ]);
  return out;
}

let proxyScript: string | undefined;

/**
 * `BENCH_CPU_PROF=<dir>` writes a V8 CPU profile of each proxy process there, covering the
 * saturation phase only (started and stopped over IPC with the inspector's profiler, so start-up
 * and snapshot compilation stay out of it): `strait-<node>.cpuprofile`, summarised by
 * `bench/proxy/profile-summary.ts`. `BENCH_PROXY_NODE_FLAGS` adds Node/V8 flags to the proxies.
 */
function child(script: string, args: string[] = [], proxy = false): ChildProcess {
  const extra = proxy ? (process.env.BENCH_PROXY_NODE_FLAGS ?? "").split(/\s+/).filter((f) => f !== "") : [];
  const bundled = proxy && proxyScript !== undefined;
  const execArgv = [...(bundled ? [] : ["--import", "tsx"]), ...extra];
  return fork(bundled ? proxyScript! : join(here, script), args, { execArgv, stdio: ["ignore", "inherit", "inherit", "ipc"], cwd: projectRoot });
}

function nextMessage(c: ChildProcess, kind: string): Promise<Message> {
  return new Promise((resolvePromise, reject) => {
    const on = (m: Message) => {
      if (m.kind === kind) {
        c.off("message", on);
        resolvePromise(m);
      } else if (m.kind === "error") reject(new Error(String(m.message)));
    };
    c.on("message", on);
    c.once("exit", (code) => reject(new Error(`child exited with ${code}`)));
  });
}

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = net.createServer();
    s.once("error", rej);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => res(port));
    });
  });
}

interface PathResult {
  name: string;
  fixed: LoadResult;
  saturation: LoadResult;
  /** CPU seconds per 1,000 requests, per proxy process, at the fixed rate and at saturation. */
  cpuFixed: number[];
  cpuSaturation: number[];
  rssMb: number[];
}

interface PhaseHooks {
  beforeSaturation(): Promise<void>;
  afterSaturation(): Promise<void>;
}

async function measure(name: string, target: Target, pids: number[], o: Required<BenchProxyOptions>, hooks?: PhaseHooks): Promise<PathResult> {
  await fixedRate(target, Math.min(o.rps, 500), 2); // warm-up: pools, JIT
  const cpu = async () => Promise.all(pids.map(cpuSeconds));
  const c0 = await cpu();
  const fixed = await fixedRate(target, o.rps, o.seconds);
  await hooks?.beforeSaturation();
  const c1 = await cpu();
  const saturation = await saturate(target, o.seconds);
  const c2 = await cpu();
  await hooks?.afterSaturation();
  const per1k = (a: number[], b: number[], requests: number) => a.map((v, i) => ((b[i]! - v) / Math.max(requests, 1)) * 1000);
  return {
    name,
    fixed,
    saturation,
    cpuFixed: per1k(c0, c1, fixed.requests),
    cpuSaturation: per1k(c1, c2, saturation.requests),
    rssMb: await Promise.all(pids.map(peakRssMb)),
  };
}

const f = (n: number, d = 2) => (Number.isFinite(n) ? n.toFixed(d) : "n/a");

export async function benchProxy(options: BenchProxyOptions = {}): Promise<Record<string, number>> {
  const o: Required<BenchProxyOptions> = { seconds: options.seconds ?? 10, rps: options.rps ?? 1000, services: options.services ?? 1000 };
  const children: ChildProcess[] = [];
  const dir = await mkdtemp(join(tmpdir(), "strait-bench-proxy-"));
  let nginxDir: string | undefined;
  const loadAtStart = os.loadavg();
  try {
    proxyScript = process.env.BENCH_PROXY_BUNDLE === "0" ? undefined : await bundleProxy(dir);
    const upstream = child("upstream-process.ts");
    children.push(upstream);
    const upstreamPort = Number((await nextMessage(upstream, "listening")).port);

    const ca = await createStaticCa();
    // The control plane's job, done here: YAML -> validated resources -> compiled node snapshots (JSON).
    let generation = 0;
    const writeSnapshots = async (hbonePortB: number): Promise<Map<string, string>> => {
      const snaps = nodeSnapshots(parseResources(meshYaml({ upstreamPort, hbonePortB, extraServices: o.services })), ca.trustDomain);
      const files = new Map<string, string>();
      generation += 1;
      for (const [key, snap] of snaps) {
        const file = join(dir, `snapshot-${key.replace("/", "-")}-${generation}.json`);
        await writeFile(file, JSON.stringify(snap));
        files.set(key.split("/")[1]!, file);
      }
      return files;
    };
    const first = await writeSnapshots(15008);
    const start = async (node: string) => {
      const input: ProxyProcessInput = { cluster: "c1", node, trustDomain: ca.trustDomain, rootPem: ca.rootPem, intermediate: ca.intermediate!, snapshotFile: first.get(node)! };
      const file = join(dir, `${node}.json`);
      await writeFile(file, JSON.stringify(input), { mode: 0o600 });
      const c = child("proxy-process.ts", [file], true);
      children.push(c);
      const m = await nextMessage(c, "listening");
      return { proc: c, addresses: m.addresses as Record<string, { port: number }> };
    };
    const a = await start("a");
    const b = await start("b");
    const second = await writeSnapshots(b.addresses.hbone!.port);
    for (const [n, p] of [["a", a], ["b", b]] as const) {
      p.proc.send({ kind: "config", snapshotFile: second.get(n)! });
      await nextMessage(p.proc, "applied");
    }

    const [outPort, inPort] = [await freePort(), await freePort()];
    const { stdout } = await run("bash", [NGINX_SCRIPT, "start", String(upstreamPort), String(outPort), String(inPort)]);
    const kv = Object.fromEntries(stdout.trim().split(/\s+/).map((p) => p.split("=") as [string, string]));
    nginxDir = kv.dir;

    const results: PathResult[] = [];
    results.push(await measure("direct", { url: `http://127.0.0.1:${upstreamPort}/`, headers: {} }, [], o));
    const profDir = process.env.BENCH_CPU_PROF;
    const proxies = [["a", a.proc], ["b", b.proc]] as const;
    const hooks: PhaseHooks | undefined =
      profDir === undefined
        ? undefined
        : {
            async beforeSaturation() {
              await Promise.all(proxies.map(async ([, p]) => (p.send({ kind: "profile-start" }), nextMessage(p, "profiled"))));
            },
            async afterSaturation() {
              await Promise.all(proxies.map(async ([n, p]) => (p.send({ kind: "profile-stop", file: resolve(profDir, `strait-${n}.cpuprofile`) }), nextMessage(p, "profiled"))));
            },
          };
    results.push(await measure("strait", { url: `http://127.0.0.1:${a.addresses.outbound!.port}/`, headers: { host: SERVICE_HOST } }, [a.proc.pid!, b.proc.pid!], o, hooks));
    // `BENCH_HEAP_SNAPSHOT=<dir>`: a V8 heap snapshot of each proxy after the run (`strait-<node>.heapsnapshot`).
    const heapDir = process.env.BENCH_HEAP_SNAPSHOT;
    const memory: { node: string; m: Message }[] = [];
    for (const [n, p] of proxies) {
      p.send({ kind: "memory", ...(heapDir === undefined ? {} : { heapSnapshot: resolve(heapDir, `strait-${n}.heapsnapshot`) }) });
      memory.push({ node: n, m: await nextMessage(p, "memory") });
    }
    results.push(await measure("nginx", { url: `http://127.0.0.1:${outPort}/`, headers: {} }, [Number(kv.out_pid), Number(kv.in_pid)], o));

    const [direct, strait, nginx] = results as [PathResult, PathResult, PathResult];
    const cpus = os.cpus();
    console.log(`\nmachine: ${cpus[0]?.model ?? "unknown CPU"}, ${cpus.length} cores, Node ${process.version}; load average at start ${loadAtStart.map((l) => l.toFixed(2)).join(" ")}, at end ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
    const flags = process.env.BENCH_PROXY_NODE_FLAGS ?? "";
    console.log(`\nstrait proxies run ${proxyScript === undefined ? "through tsx (as bin/strait-proxy.mjs ships)" : "from an esbuild bundle (no tsx)"}${flags === "" ? "" : ` with ${flags}`}`);
    console.log(`proxy benchmark: ${o.rps} rps fixed (autocannon, 16 connections) and saturation (wrk, 32 connections), ${o.seconds}s each, 1 KiB bodies, keep-alive; snapshot with ${o.services} extra services`);
    console.log("path     fixed rps  p50 ms  p99 ms  +p50 ms  +p99 ms | sat rps  sat p99 | CPU s/1k req per proxy (fixed; sat) | peak RSS MB | errors/non-2xx (fixed; sat)");
    for (const r of results) {
      console.log(
        [
          r.name.padEnd(8),
          f(r.fixed.rps, 0).padStart(9),
          f(r.fixed.p50Ms).padStart(7),
          f(r.fixed.p99Ms).padStart(7),
          f(r.fixed.p50Ms - direct.fixed.p50Ms).padStart(8),
          f(r.fixed.p99Ms - direct.fixed.p99Ms).padStart(8),
          "|",
          f(r.saturation.rps, 0).padStart(7),
          f(r.saturation.p99Ms).padStart(8),
          "|",
          (r.cpuFixed.map((c) => f(c, 3)).join(", ") + "; " + r.cpuSaturation.map((c) => f(c, 3)).join(", ")).padEnd(36),
          "|",
          r.rssMb.map((m) => f(m, 1)).join(", ").padEnd(11),
          "|",
          `${r.fixed.errors}/${r.fixed.non2xx}; ${r.saturation.errors}/${r.saturation.non2xx}`,
        ].join(" "),
      );
    }
    for (const { node, m } of memory) {
      const u = m.usage as NodeJS.MemoryUsage;
      const mb = (n: number) => (n / 1048576).toFixed(1);
      const spaces = Object.entries(m.heapSpaces as Record<string, number>).map(([k, v]) => `${k.replace(/_space$/, "")} ${(v / 1024).toFixed(1)}`).join(", ");
      console.log(`strait proxy ${node} memory after the run: rss ${mb(u.rss)} MB, V8 heap ${mb(u.heapUsed)} used / ${mb(u.heapTotal)} total MB (${spaces}), external ${mb(u.external)} MB, array buffers ${mb(u.arrayBuffers)} MB`);
    }
    const maxCpu = (xs: number[]) => Math.max(...xs);
    const figures = {
      straitSaturationRps: strait.saturation.rps,
      nginxSaturationRps: nginx.saturation.rps,
      saturationRatioToNginx: strait.saturation.rps / nginx.saturation.rps,
      straitAddedP99Ms: strait.fixed.p99Ms - direct.fixed.p99Ms,
      nginxAddedP99Ms: nginx.fixed.p99Ms - direct.fixed.p99Ms,
      addedP99OverNginxMs: strait.fixed.p99Ms - nginx.fixed.p99Ms,
      straitCpuPer1kMax: maxCpu(strait.cpuFixed),
      nginxCpuPer1kMax: maxCpu(nginx.cpuFixed),
      cpuRatioToNginx: maxCpu(strait.cpuFixed) / maxCpu(nginx.cpuFixed),
      straitPeakRssMb: Math.max(...strait.rssMb),
    };
    console.log(
      `ratios: saturation strait/nginx ${f(figures.saturationRatioToNginx)} (goal >= 0.5); added p99 at ${o.rps} rps strait ${f(figures.straitAddedP99Ms)} ms vs nginx ${f(figures.nginxAddedP99Ms)} ms (goal: within 0.3 ms); ` +
        `CPU per 1k rps per proxy strait ${f(figures.straitCpuPer1kMax, 3)} vCPU vs nginx ${f(figures.nginxCpuPer1kMax, 3)} (x${f(figures.cpuRatioToNginx, 1)}; goal <= 0.06); peak RSS ${f(figures.straitPeakRssMb, 1)} MB (goal <= 60)`,
    );
    return figures;
  } finally {
    for (const c of children) {
      if (c.connected) c.send({ kind: "stop" });
    }
    await new Promise((r) => setTimeout(r, 1500));
    for (const c of children) if (c.exitCode === null) c.kill();
    if (nginxDir !== undefined) await run("bash", [NGINX_SCRIPT, "stop", nginxDir]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  await benchProxy({ seconds: Number(process.env.BENCH_SECONDS ?? 10) });
}
