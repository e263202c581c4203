/**
 * Requests per second, p50/p99 latency and workerd CPU milliseconds per request through the edge
 * gateway against a bare forwarding worker (`fetch(upstream + path)`), in the same run, to the
 * same upstream. Prints the ratios (goal: gateway >= 0.8x the bare worker's req/s).
 *
 * Fairness: both workers run in workerd from Miniflare (no wrangler dev proxy), each reached on a
 * direct socket of its own (no entry-worker hop), with the same compatibility date and flags;
 * the upstream is one keep-alive HTTP server in its own Node process (it never shares an event
 * loop with autocannon); both sides are warmed up, then measured in interleaved rounds whose
 * order alternates, and each figure is the median over rounds. The CPU figure is the workerd
 * process's user + system time during a round divided by the requests of that round: on a shared
 * machine it is the steadier measure of what a request costs.
 *
 *   node --import tsx bench/gateway/throughput.ts [--rounds 6] [--duration 5] [--connections 16]
 */
import os from "node:os";
import autocannon from "autocannon";
import { Miniflare } from "miniflare";
import { createThrowawayCa } from "../../test/support/throwaway-ca.ts";
import { startEdgeMesh } from "../../test/support/edge-gateway-mesh.ts";
import { BENCH_HOST, benchConfigYaml, getStatus } from "./bench-config.ts";
import { processCpuMs, workerdChildren } from "./process-cpu.ts";
import { startUpstreamProcess } from "./upstream-process.ts";

export interface ThroughputResult {
  name: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** workerd CPU (user + system) per request, ms; NaN when /proc is unavailable. */
  cpuMsPerRequest: number;
  errors: number;
  non2xx: number;
}

export interface ThroughputReport {
  /** Medians over the rounds. */
  gateway: ThroughputResult;
  bare: ThroughputResult;
  /** Each round's pair, measured back to back. */
  rounds: { gateway: ThroughputResult; bare: ThroughputResult }[];
  connections: number;
  durationSeconds: number;
}

/** Same compatibility settings as the gateway's wrangler.toml, so the runtimes match. */
export const COMPATIBILITY = { compatibilityDate: "2026-04-01", compatibilityFlags: ["nodejs_compat"] };

export const BARE_FORWARDER = (upstream: string) => `
export default {
  async fetch(request) {
    const url = new URL(request.url);
    return fetch("${upstream}" + url.pathname + url.search, { method: request.method, headers: request.headers, body: request.body });
  },
};`;

async function drive(name: string, url: string, pid: number | undefined, o: { durationSeconds: number; connections: number }): Promise<ThroughputResult> {
  const cpu0 = pid === undefined ? Number.NaN : await processCpuMs(pid);
  const r = await autocannon({ url, connections: o.connections, duration: o.durationSeconds, headers: { host: BENCH_HOST } });
  const cpu1 = pid === undefined ? Number.NaN : await processCpuMs(pid);
  const requests = r.requests.total;
  // autocannon reports the run's real length (seconds) as `duration`; the local typings omit it.
  const seconds = (r as unknown as { duration?: number }).duration ?? o.durationSeconds;
  return {
    name,
    requestsPerSecond: requests / seconds,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    cpuMsPerRequest: requests > 0 ? (cpu1 - cpu0) / requests : Number.NaN,
    errors: r.errors,
    non2xx: r.non2xx,
  };
}

function median(xs: number[]): number {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function medianOf(name: string, rs: ThroughputResult[]): ThroughputResult {
  return {
    name,
    requestsPerSecond: median(rs.map((r) => r.requestsPerSecond)),
    p50Ms: median(rs.map((r) => r.p50Ms)),
    p99Ms: median(rs.map((r) => r.p99Ms)),
    cpuMsPerRequest: median(rs.map((r) => r.cpuMsPerRequest)),
    errors: rs.reduce((a, r) => a + r.errors, 0),
    non2xx: rs.reduce((a, r) => a + r.non2xx, 0),
  };
}

/** The workerd process Miniflare started during `start` (undefined when /proc cannot tell). */
async function newWorkerd<T>(start: () => Promise<T>): Promise<{ value: T; pid: number | undefined }> {
  const before = new Set(await workerdChildren().catch(() => []));
  const value = await start();
  const added = (await workerdChildren().catch(() => [])).filter((p) => !before.has(p));
  return { value, pid: added.length === 1 ? added[0] : undefined };
}

export async function benchGatewayThroughput(o: { durationSeconds?: number; connections?: number; rounds?: number } = {}): Promise<ThroughputReport> {
  const durationSeconds = o.durationSeconds ?? 5;
  const connections = o.connections ?? 16;
  const rounds = o.rounds ?? 6;
  const upstream = await startUpstreamProcess();
  const upstreamUrl = `http://127.0.0.1:${upstream.port}`;
  const ca = await createThrowawayCa();
  const meshStart = await newWorkerd(() => startEdgeMesh({ controlVars: ca.vars, gatewayVars: { ACCESS_LOG: "off" } }));
  const mesh = meshStart.value;
  let bare: Miniflare | undefined;
  try {
    const bareStart = await newWorkerd(async () => {
      const mf = new Miniflare({
        host: "127.0.0.1",
        port: 0,
        workers: [{ name: "bare", modules: true, script: BARE_FORWARDER(upstreamUrl), ...COMPATIBILITY, unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }] }],
      });
      await mf.ready;
      return mf;
    });
    bare = bareStart.value;
    const res = await mesh.control("/v1/apply", {
      method: "POST",
      headers: { authorization: `Bearer ${ca.adminToken}`, "content-type": "application/yaml" },
      body: benchConfigYaml(upstream.port),
    });
    if (res.status !== 200) throw new Error(`apply failed: ${res.status} ${await res.text()}`);
    const gatewayUrl = new URL("/bench", mesh.gatewayUrl).href;
    const bareUrl = new URL("/bench", await bare.unsafeGetDirectURL("bare")).href;
    // Wait for the route (the snapshot is published asynchronously), then warm both paths.
    for (let i = 0; ; i++) {
      const status = await getStatus(gatewayUrl, BENCH_HOST);
      if (status === 200) break;
      if (i > 150) throw new Error(`the gateway never routed the bench host (last status ${status})`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const sides = {
      gateway: { name: "gateway (Strait edge gateway in workerd)", url: gatewayUrl, pid: meshStart.pid },
      bare: { name: "bare forwarding worker (workerd)", url: bareUrl, pid: bareStart.pid },
    };
    for (const s of [sides.gateway, sides.bare]) await drive("warm-up", s.url, undefined, { durationSeconds: 2, connections });
    const pairs: ThroughputReport["rounds"] = [];
    for (let round = 0; round < rounds; round++) {
      // Alternate which side goes first, so neither profits from when it runs.
      const order = round % 2 === 0 ? (["gateway", "bare"] as const) : (["bare", "gateway"] as const);
      const pair: Partial<ThroughputReport["rounds"][number]> = {};
      for (const k of order) pair[k] = await drive(sides[k].name, sides[k].url, sides[k].pid, { durationSeconds, connections });
      pairs.push(pair as ThroughputReport["rounds"][number]);
    }
    return {
      gateway: medianOf(sides.gateway.name, pairs.map((p) => p.gateway)),
      bare: medianOf(sides.bare.name, pairs.map((p) => p.bare)),
      rounds: pairs,
      connections,
      durationSeconds,
    };
  } finally {
    await bare?.dispose();
    await mesh.dispose();
    await upstream.stop();
  }
}

const f1 = (x: number) => (Number.isNaN(x) ? "n/a" : x.toFixed(1));
const f2 = (x: number) => (Number.isNaN(x) ? "n/a" : x.toFixed(2));

export function printThroughput(r: ThroughputReport): void {
  console.log(
    `\nthroughput through Miniflare's direct sockets (autocannon ${r.connections} connections, ${r.rounds.length} interleaved rounds of ${r.durationSeconds} s, medians; load average ${os.loadavg().map((l) => l.toFixed(1)).join(" ")})`,
  );
  console.log("path                                        req/s    p50 ms   p99 ms  CPU ms/req  errors  non-2xx");
  for (const x of [r.gateway, r.bare]) {
    console.log(
      `${x.name.padEnd(42)} ${Math.round(x.requestsPerSecond).toString().padStart(6)}  ${f1(x.p50Ms).padStart(7)}  ${f1(x.p99Ms).padStart(7)}  ${f2(x.cpuMsPerRequest).padStart(10)}  ${String(x.errors).padStart(6)}  ${String(x.non2xx).padStart(7)}`,
    );
  }
  const ratios = r.rounds.map((p) => p.gateway.requestsPerSecond / p.bare.requestsPerSecond);
  const cpuRatios = r.rounds.map((p) => p.gateway.cpuMsPerRequest / p.bare.cpuMsPerRequest);
  console.log(`per round gateway/bare req/s: ${ratios.map((x) => x.toFixed(2)).join(" ")}`);
  console.log(
    `gateway / bare: ${f2(median(ratios))}x req/s (median of rounds, range ${f2(Math.min(...ratios))}-${f2(Math.max(...ratios))}; goal >= 0.80x), ` +
      `p50 ${f2(r.gateway.p50Ms / Math.max(r.bare.p50Ms, 0.001))}x, p99 ${f2(r.gateway.p99Ms / Math.max(r.bare.p99Ms, 0.001))}x latency, ` +
      `CPU/request ${f2(median(cpuRatios))}x`,
  );
}

function arg(name: string): number | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? Number(process.argv[i + 1]) : undefined;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(`machine: ${os.cpus()[0]?.model ?? "unknown cpu"}, ${os.cpus().length} cores, node ${process.version}, load average ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`);
  const d = arg("duration");
  const c = arg("connections");
  const n = arg("rounds");
  printThroughput(await benchGatewayThroughput({ ...(d === undefined ? {} : { durationSeconds: d }), ...(c === undefined ? {} : { connections: c }), ...(n === undefined ? {} : { rounds: n }) }));
}
