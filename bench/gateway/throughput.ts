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
 * A third side in the saturated phase, the "Istio-minimum forwarder", is the bare worker plus only
 * the per-request work Istio's behaviour requires of any gateway on this route (MINIMUM_FORWARDER):
 * it bounds what a gateway that sends Envoy's headers can reach in this runtime, and the gateway /
 * minimum ratio is what routing, policy and the rest of the gateway's own code cost.
 *
 * Subrequests: by default both workers' fetches pass through Miniflare's outbound worker (its
 * `stripCfConnectingIp`, on by default: a small JS worker that copies every subrequest to drop
 * `CF-Connecting-IP` and set `CF-Worker`, emulating Cloudflare's edge); `--outbound direct` turns it
 * off for every side, so each worker's own cost is all that is measured.
 *
 * At saturation the latencies only mirror throughput (Little's law: p50 ≈ connections / rate). So a
 * second phase follows, as Istio's benchmarks measure proxy latency (fortio -qps): both sides at the
 * same fixed offered rate below capacity (by default a quarter of the slower side's saturated req/s),
 * evenly paced (bench/gateway/paced-load.ts, which also says why not autocannon's overallRate),
 * again interleaved rounds with alternating order and medians; p50/p90/p99 at microsecond
 * resolution and what the gateway adds (gateway − bare).
 *
 *   node --import tsx bench/gateway/throughput.ts [--rounds 6] [--duration 5] [--connections 16]
 *     [--fixed-rate-fraction 0.25 | --fixed-rate <rps>] [--fixed-rate-rounds 6] [--fixed-rate-duration 2.5] [--fixed-rate-connections 16]
 *     [--outbound miniflare | direct]
 *     (--fixed-rate-fraction 0 skips the fixed-rate phase)
 */
import os from "node:os";
import autocannon from "autocannon";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { createThrowawayCa } from "../../test/support/throwaway-ca.ts";
import { startEdgeMesh } from "../../test/support/edge-gateway-mesh.ts";
import { BENCH_HOST, benchConfigYaml, getStatus } from "./bench-config.ts";
import { processCpuMs, workerdChildren } from "./process-cpu.ts";
import { startUpstreamProcess } from "./upstream-process.ts";
import { percentile, runPacedLoad } from "./paced-load.ts";
import { median } from "./median.ts";

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
  /** The Istio-minimum forwarder (MINIMUM_FORWARDER). */
  minimum: ThroughputResult;
  /** Each round's three sides, measured back to back. */
  rounds: { gateway: ThroughputResult; bare: ThroughputResult; minimum: ThroughputResult }[];
  /** How the workers' subrequests left workerd (see `ThroughputOptions.outbound`). */
  outbound: Outbound;
  connections: number;
  durationSeconds: number;
  /** The fixed-rate phase; undefined when it was skipped (`fixedRateFraction: 0`). */
  fixedRate?: FixedRateReport;
}

export interface FixedRateResult {
  name: string;
  offeredRps: number;
  /** 2xx responses per second actually completed. */
  achievedRps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  /** workerd CPU (user + system) per request, ms; NaN when /proc is unavailable. */
  cpuMsPerRequest: number;
  /** 99th percentile of how late the client sent a request against its schedule, ms. */
  sendLagP99Ms: number;
  errors: number;
  non2xx: number;
}

export interface FixedRateReport {
  /** The rate both sides were offered, requests per second. */
  offeredRps: number;
  /** The fraction of the slower side's saturated req/s it was chosen as; undefined when set absolutely. */
  fraction: number | undefined;
  /** Medians over the rounds (errors and non-2xx summed). */
  gateway: FixedRateResult;
  bare: FixedRateResult;
  /** Each round's pair, measured back to back. */
  rounds: { gateway: FixedRateResult; bare: FixedRateResult }[];
  /** Whether each side's median achieved rate is within `FIXED_RATE_TOLERANCE` of the offered one. */
  reached: { gateway: boolean; bare: boolean };
  /** Rounds in which a side fell more than `FIXED_RATE_TOLERANCE` below the offered rate (their latencies include a queue). */
  roundsBelowRate: { gateway: number; bare: number };
  /** Connection pool size per side (upper bound on requests in flight). */
  connections: number;
  durationSeconds: number;
  /** `os.loadavg()` when the phase started and when it ended. */
  loadAverage: { start: number[]; end: number[] };
}

/** How far (relative) an achieved rate may fall below the offered one and still count as reached. */
export const FIXED_RATE_TOLERANCE = 0.03;

/**
 * The gateway's compatibility date and flags, read from wrangler.toml by wrangler itself, so both
 * workers run on the same runtime behaviour (the gateway's `enable_request_signal` included).
 */
export const COMPATIBILITY = gatewayCompatibility();

function gatewayCompatibility(): { compatibilityDate: string; compatibilityFlags: string[] } {
  const w = unstable_getMiniflareWorkerOptions(fileURLToPath(new URL("../../wrangler.toml", import.meta.url))).workerOptions;
  if (w.compatibilityDate === undefined) throw new Error("wrangler.toml sets no compatibility_date");
  return { compatibilityDate: w.compatibilityDate, compatibilityFlags: [...(w.compatibilityFlags ?? [])] };
}

/**
 * The bare forwarder plus the per-request work Istio's behaviour requires of any gateway on the
 * benchmark's route, done in the cheapest way measured in workerd, and nothing else (no routing, no
 * policy, no retries): read the request headers once (routing and the header-size limit need
 * them), forward them without Host and hop-by-hop headers plus the three Envoy adds (Istio:
 * `x-request-id`, `x-forwarded-proto`, `x-envoy-attempt-count` with include_request_attempt_count;
 * and `x-forwarded-host`, the planned authority workerd cannot send as Host), read the status and
 * `grpc-status` Istio's default retry policy decides on, and copy the response (fetched headers are
 * immutable) to add `x-envoy-upstream-service-time`.
 */
export const MINIMUM_FORWARDER = (upstream: string) => `
const HOP = new Set(["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "proxy-authorization", "proxy-authenticate", "host"]);
export default {
  async fetch(request) {
    const url = new URL(request.url);
    const headers = new Map();
    request.headers.forEach((v, k) => { headers.set(k, v); });
    const out = Object.create(null);
    for (const [k, v] of headers) if (!HOP.has(k)) out[k] = v;
    out["x-request-id"] = crypto.randomUUID();
    out["x-forwarded-proto"] = url.protocol === "https:" ? "https" : "http";
    out["x-forwarded-host"] = headers.get("host") ?? url.host;
    out["x-envoy-attempt-count"] = "1";
    const started = Date.now();
    const fetched = await fetch("${upstream}" + url.pathname + url.search, { method: request.method, headers: out, body: request.body, redirect: "manual" });
    const res = new Response(fetched.body, fetched);
    // What Istio's default retry policy (retriable-status-codes 503, unavailable, cancelled) reads; this forwarder never retries.
    if (res.status === 503 || res.headers.get("grpc-status") !== null) res.headers.set("x-minimum-would-retry", "1");
    res.headers.set("x-envoy-upstream-service-time", String(Date.now() - started));
    return res;
  },
};`;

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

async function drivePaced(name: string, url: string, pid: number | undefined, o: { rate: number; durationSeconds: number; connections: number }): Promise<FixedRateResult> {
  const cpu0 = pid === undefined ? Number.NaN : await processCpuMs(pid);
  const r = await runPacedLoad({ url, host: BENCH_HOST, rate: o.rate, durationSeconds: o.durationSeconds, connections: o.connections });
  const cpu1 = pid === undefined ? Number.NaN : await processCpuMs(pid);
  const requests = r.ok + r.non2xx;
  return {
    name,
    offeredRps: o.rate,
    achievedRps: r.achievedRps,
    p50Ms: percentile(r.latenciesMs, 0.5),
    p90Ms: percentile(r.latenciesMs, 0.9),
    p99Ms: percentile(r.latenciesMs, 0.99),
    cpuMsPerRequest: requests > 0 ? (cpu1 - cpu0) / requests : Number.NaN,
    sendLagP99Ms: r.sendLagP99Ms,
    errors: r.errors,
    non2xx: r.non2xx,
  };
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

function medianOfFixed(name: string, rs: FixedRateResult[]): FixedRateResult {
  return {
    name,
    offeredRps: rs[0]?.offeredRps ?? Number.NaN,
    achievedRps: median(rs.map((r) => r.achievedRps)),
    p50Ms: median(rs.map((r) => r.p50Ms)),
    p90Ms: median(rs.map((r) => r.p90Ms)),
    p99Ms: median(rs.map((r) => r.p99Ms)),
    cpuMsPerRequest: median(rs.map((r) => r.cpuMsPerRequest)),
    sendLagP99Ms: median(rs.map((r) => r.sendLagP99Ms)),
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

/** How the workers' subrequests leave workerd: through Miniflare's outbound worker (its default) or directly. */
export type Outbound = "miniflare" | "direct";

export interface ThroughputOptions {
  /**
   * "miniflare" (default, Miniflare's own default): every side's subrequests pass through
   * Miniflare's `stripCfConnectingIp` worker; "direct": no side's do.
   */
  outbound?: Outbound;
  /** Saturated phase: seconds per round (5), autocannon connections (16), rounds (6). */
  durationSeconds?: number;
  connections?: number;
  rounds?: number;
  /**
   * Fixed-rate phase: offered rate as a fraction of the slower side's saturated req/s (0.25; 0 skips the phase).
   * Not 0.5: the load generator, the upstream and both workerds share the machine's cores, so half the
   * saturated rate keeps the whole machine about half busy, and on 2 shared cores the gateway's p50 then
   * moved by tens of ms from run to run (queueing after neighbours' bursts, drained more slowly by the
   * side with less headroom); at a quarter the runs' added p50 agreed within 0.25 ms (docs/edge-gateway.md).
   */
  fixedRateFraction?: number;
  /** Fixed-rate phase: offered rate in req/s; takes precedence over `fixedRateFraction`. */
  fixedRate?: number;
  /** Fixed-rate phase: rounds (6), seconds per round (2.5), connection pool size per side (16). */
  fixedRateRounds?: number;
  fixedRateDurationSeconds?: number;
  fixedRateConnections?: number;
}

export async function benchGatewayThroughput(o: ThroughputOptions = {}): Promise<ThroughputReport> {
  const durationSeconds = o.durationSeconds ?? 5;
  const connections = o.connections ?? 16;
  const rounds = o.rounds ?? 6;
  const fixedRateFraction = o.fixedRateFraction ?? 0.25;
  const fixedRateRounds = o.fixedRateRounds ?? 6;
  const fixedRateDurationSeconds = o.fixedRateDurationSeconds ?? 2.5;
  const fixedRateConnections = o.fixedRateConnections ?? 16;
  const outbound = o.outbound ?? "miniflare";
  if (outbound !== "miniflare" && outbound !== "direct") throw new TypeError(`outbound must be "miniflare" or "direct" (got ${String(outbound)})`);
  const strip = outbound === "miniflare";
  if (!(fixedRateFraction >= 0 && fixedRateFraction <= 1)) throw new TypeError(`fixedRateFraction must be in [0, 1] (got ${fixedRateFraction})`);
  if (o.fixedRate !== undefined && !(o.fixedRate > 0)) throw new TypeError(`fixedRate must be a positive number of requests per second (got ${o.fixedRate})`);
  if (!(fixedRateRounds >= 1) || !(fixedRateDurationSeconds > 0) || !(fixedRateConnections >= 1)) {
    throw new TypeError(`fixedRateRounds, fixedRateDurationSeconds and fixedRateConnections must be positive (got ${fixedRateRounds}, ${fixedRateDurationSeconds}, ${fixedRateConnections})`);
  }
  const upstream = await startUpstreamProcess();
  const upstreamUrl = `http://127.0.0.1:${upstream.port}`;
  const ca = await createThrowawayCa();
  const meshStart = await newWorkerd(() => startEdgeMesh({ controlVars: ca.vars, gatewayVars: { ACCESS_LOG: "off" }, stripCfConnectingIp: strip }));
  const mesh = meshStart.value;
  const plain: Miniflare[] = [];
  /** A one-worker workerd of its own, reached on a direct socket. */
  const startPlain = (script: string) =>
    newWorkerd(async () => {
      const mf = new Miniflare({
        host: "127.0.0.1",
        port: 0,
        workers: [{ name: "w", modules: true, script, ...COMPATIBILITY, stripCfConnectingIp: strip, unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }] }],
      });
      plain.push(mf);
      await mf.ready;
      return { mf, url: new URL("/bench", await mf.unsafeGetDirectURL("w")).href };
    });
  try {
    const bareStart = await startPlain(BARE_FORWARDER(upstreamUrl));
    const minimumStart = await startPlain(MINIMUM_FORWARDER(upstreamUrl));
    const res = await mesh.control("/v1/apply", {
      method: "POST",
      headers: { authorization: `Bearer ${ca.adminToken}`, "content-type": "application/yaml" },
      body: benchConfigYaml(upstream.port),
    });
    if (res.status !== 200) throw new Error(`apply failed: ${res.status} ${await res.text()}`);
    const gatewayUrl = new URL("/bench", mesh.gatewayUrl).href;
    // Wait for the route (the snapshot is published asynchronously), then warm both paths.
    for (let i = 0; ; i++) {
      const status = await getStatus(gatewayUrl, BENCH_HOST);
      if (status === 200) break;
      if (i > 150) throw new Error(`the gateway never routed the bench host (last status ${status})`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const sides = {
      gateway: { name: "gateway (Strait edge gateway in workerd)", url: gatewayUrl, pid: meshStart.pid },
      bare: { name: "bare forwarding worker (workerd)", url: bareStart.value.url, pid: bareStart.pid },
      minimum: { name: "Istio-minimum forwarder (workerd)", url: minimumStart.value.url, pid: minimumStart.pid },
    };
    const keys = ["gateway", "bare", "minimum"] as const;
    for (const k of keys) await drive("warm-up", sides[k].url, undefined, { durationSeconds: 2, connections });
    const pairs: ThroughputReport["rounds"] = [];
    for (let round = 0; round < rounds; round++) {
      // Rotate which side goes first (each takes every place equally often over 3n rounds), so none profits from when it runs.
      const order = keys.map((_, i) => keys[(i + round) % keys.length]!);
      const pair: Partial<ThroughputReport["rounds"][number]> = {};
      for (const k of order) pair[k] = await drive(sides[k].name, sides[k].url, sides[k].pid, { durationSeconds, connections });
      pairs.push(pair as ThroughputReport["rounds"][number]);
    }
    const gateway = medianOf(sides.gateway.name, pairs.map((p) => p.gateway));
    const bareMedian = medianOf(sides.bare.name, pairs.map((p) => p.bare));
    const minimum = medianOf(sides.minimum.name, pairs.map((p) => p.minimum));
    const report: ThroughputReport = { gateway, bare: bareMedian, minimum, rounds: pairs, outbound, connections, durationSeconds };
    const offeredRps = o.fixedRate ?? Math.round(fixedRateFraction * Math.min(gateway.requestsPerSecond, bareMedian.requestsPerSecond));
    if (o.fixedRate === undefined && fixedRateFraction === 0) return report;
    if (!(offeredRps >= 1)) throw new Error(`no fixed rate to offer: the saturated phase measured ${gateway.requestsPerSecond} / ${bareMedian.requestsPerSecond} req/s`);
    const loadAtStart = os.loadavg();
    const paced = { rate: offeredRps, connections: fixedRateConnections };
    // The pool's connections are new: one second at the rate per side opens them and settles the schedule.
    for (const s of [sides.gateway, sides.bare]) await drivePaced("warm-up", s.url, undefined, { ...paced, durationSeconds: 1 });
    const fixedPairs: FixedRateReport["rounds"] = [];
    for (let round = 0; round < fixedRateRounds; round++) {
      const order = round % 2 === 0 ? (["gateway", "bare"] as const) : (["bare", "gateway"] as const);
      const pair: Partial<FixedRateReport["rounds"][number]> = {};
      for (const k of order) pair[k] = await drivePaced(sides[k].name, sides[k].url, sides[k].pid, { ...paced, durationSeconds: fixedRateDurationSeconds });
      fixedPairs.push(pair as FixedRateReport["rounds"][number]);
    }
    const fixedGateway = medianOfFixed(sides.gateway.name, fixedPairs.map((p) => p.gateway));
    const fixedBare = medianOfFixed(sides.bare.name, fixedPairs.map((p) => p.bare));
    const reached = (r: FixedRateResult) => r.achievedRps >= offeredRps * (1 - FIXED_RATE_TOLERANCE);
    report.fixedRate = {
      offeredRps,
      fraction: o.fixedRate === undefined ? fixedRateFraction : undefined,
      gateway: fixedGateway,
      bare: fixedBare,
      rounds: fixedPairs,
      reached: { gateway: reached(fixedGateway), bare: reached(fixedBare) },
      roundsBelowRate: { gateway: fixedPairs.filter((p) => !reached(p.gateway)).length, bare: fixedPairs.filter((p) => !reached(p.bare)).length },
      connections: fixedRateConnections,
      durationSeconds: fixedRateDurationSeconds,
      loadAverage: { start: loadAtStart, end: os.loadavg() },
    };
    return report;
  } finally {
    for (const mf of plain) await mf.dispose();
    await mesh.dispose();
    await upstream.stop();
  }
}

const f1 = (x: number) => (Number.isNaN(x) ? "n/a" : x.toFixed(1));
const f2 = (x: number) => (Number.isNaN(x) ? "n/a" : x.toFixed(2));

/** CPU ms per request as microseconds. */
const us = (ms: number) => (Number.isNaN(ms) ? "n/a" : Math.round(ms * 1000).toString());

export function printThroughput(r: ThroughputReport): void {
  const via = r.outbound === "miniflare" ? "subrequests through Miniflare's outbound worker (its default)" : "subrequests sent directly (--outbound direct)";
  console.log(
    `\nthroughput through Miniflare's direct sockets, ${via} (autocannon ${r.connections} connections, ${r.rounds.length} interleaved rounds of ${r.durationSeconds} s, medians; load average ${os.loadavg().map((l) => l.toFixed(1)).join(" ")})`,
  );
  console.log("path                                        req/s    p50 ms   p99 ms  CPU µs/req  errors  non-2xx");
  for (const x of [r.gateway, r.bare, r.minimum]) {
    console.log(
      `${x.name.padEnd(42)} ${Math.round(x.requestsPerSecond).toString().padStart(6)}  ${f1(x.p50Ms).padStart(7)}  ${f1(x.p99Ms).padStart(7)}  ${us(x.cpuMsPerRequest).padStart(10)}  ${String(x.errors).padStart(6)}  ${String(x.non2xx).padStart(7)}`,
    );
  }
  const minRatios = r.rounds.map((p) => p.minimum.requestsPerSecond / p.bare.requestsPerSecond);
  const gwMinRatios = r.rounds.map((p) => p.gateway.requestsPerSecond / p.minimum.requestsPerSecond);
  const gwMinCpu = r.rounds.map((p) => (p.gateway.cpuMsPerRequest - p.minimum.cpuMsPerRequest) * 1000);
  const minCpu = r.rounds.map((p) => (p.minimum.cpuMsPerRequest - p.bare.cpuMsPerRequest) * 1000);
  const ratios = r.rounds.map((p) => p.gateway.requestsPerSecond / p.bare.requestsPerSecond);
  const cpuRatios = r.rounds.map((p) => p.gateway.cpuMsPerRequest / p.bare.cpuMsPerRequest);
  console.log(`per round gateway/bare req/s: ${ratios.map((x) => x.toFixed(2)).join(" ")}`);
  console.log(
    `gateway / bare: ${f2(median(ratios))}x req/s (median of rounds, range ${f2(Math.min(...ratios))}-${f2(Math.max(...ratios))}; goal >= 0.80x), ` +
      `p50 ${f2(r.gateway.p50Ms / Math.max(r.bare.p50Ms, 0.001))}x, p99 ${f2(r.gateway.p99Ms / Math.max(r.bare.p99Ms, 0.001))}x latency, ` +
      `CPU/request ${f2(median(cpuRatios))}x`,
  );
  console.log(
    `Istio-minimum / bare: ${f2(median(minRatios))}x req/s (range ${f2(Math.min(...minRatios))}-${f2(Math.max(...minRatios))}), its required work +${f1(median(minCpu))} µs CPU/request; ` +
      `gateway / Istio-minimum: ${f2(median(gwMinRatios))}x req/s (range ${f2(Math.min(...gwMinRatios))}-${f2(Math.max(...gwMinRatios))}), the gateway's own work +${f1(median(gwMinCpu))} µs CPU/request (medians of per-round figures)`,
  );
  if (r.fixedRate !== undefined) printFixedRate(r.fixedRate);
}

const f3 = (x: number) => (Number.isNaN(x) ? "n/a" : x.toFixed(3));
const signed3 = (x: number) => (Number.isNaN(x) ? "n/a" : `${x >= 0 ? "+" : ""}${x.toFixed(3)}`);
const pct = (x: number) => `${x >= 0 ? "+" : ""}${(x * 100).toFixed(1)} %`;

export function printFixedRate(f: FixedRateReport): void {
  const chosen = f.fraction === undefined ? "set with --fixed-rate" : `${Math.round(f.fraction * 100)} % of the slower side's saturated req/s`;
  console.log(
    `\nfixed rate: ${f.offeredRps} req/s offered to each side (${chosen}), evenly paced open loop over a pool of ${f.connections} keep-alive connections per side, ` +
      `${f.rounds.length} interleaved rounds of ${f.durationSeconds} s, medians; latency from send to end of body, microsecond resolution; load average ${f.loadAverage.start.map((l) => l.toFixed(1)).join(" ")} at the start, ${f.loadAverage.end.map((l) => l.toFixed(1)).join(" ")} at the end`,
  );
  console.log("path                                       offered  achieved    p50 ms    p90 ms    p99 ms  CPU µs/req  send lag p99 ms  errors  non-2xx");
  for (const x of [f.gateway, f.bare]) {
    console.log(
      `${x.name.padEnd(42)} ${String(x.offeredRps).padStart(6)}  ${f1(x.achievedRps).padStart(8)}  ${f3(x.p50Ms).padStart(8)}  ${f3(x.p90Ms).padStart(8)}  ${f3(x.p99Ms).padStart(8)}  ${us(x.cpuMsPerRequest).padStart(10)}  ${f2(x.sendLagP99Ms).padStart(15)}  ${String(x.errors).padStart(6)}  ${String(x.non2xx).padStart(7)}`,
    );
  }
  for (const k of ["gateway", "bare"] as const) {
    const achieved = f.rounds.map((p) => p[k].achievedRps);
    const reached = f.reached[k] ? "reached" : `NOT REACHED (more than ${Math.round(FIXED_RATE_TOLERANCE * 100)} % below the offered rate)`;
    console.log(
      `${k} achieved ${f1(f[k].achievedRps)} req/s (${pct(f[k].achievedRps / f.offeredRps - 1)} of offered; rounds ${achieved.map((x) => x.toFixed(0)).join(" ")}; ` +
        `${f.roundsBelowRate[k]} of ${f.rounds.length} rounds more than ${Math.round(FIXED_RATE_TOLERANCE * 100)} % below it): ${reached}`,
    );
  }
  if (!f.reached.gateway || !f.reached.bare) {
    const which = !f.reached.gateway && !f.reached.bare ? "neither side could sustain the offered rate, so their latencies are" : `${!f.reached.gateway ? "the gateway" : "the bare worker"} could not sustain the offered rate, so its latencies are`;
    console.log(`no added latency or ratio reported: ${which} those of a queue, not of the path (lower --fixed-rate or --fixed-rate-fraction)`);
    return;
  }
  const diff = (q: "p50Ms" | "p90Ms" | "p99Ms") => f.rounds.map((p) => p.gateway[q] - p.bare[q]);
  const ratio = (q: "p50Ms" | "p90Ms" | "p99Ms") => f.rounds.map((p) => p.gateway[q] / p.bare[q]);
  console.log(`per round gateway - bare p50 ms: ${diff("p50Ms").map(signed3).join(" ")}`);
  const parts = (["p50Ms", "p90Ms", "p99Ms"] as const).map((q) => {
    const d = diff(q);
    return `${q.slice(0, 3)} ${signed3(median(d))} ms (range ${signed3(Math.min(...d))} to ${signed3(Math.max(...d))}), ${f2(median(ratio(q)))}x`;
  });
  const cpuRatios = f.rounds.map((p) => p.gateway.cpuMsPerRequest / p.bare.cpuMsPerRequest);
  console.log(`added by the gateway (gateway - bare, median of per-round differences; gateway / bare, median of per-round ratios): ${parts.join("; ")}; CPU/request ${f2(median(cpuRatios))}x`);
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
  const options: ThroughputOptions = {
    ...(d === undefined ? {} : { durationSeconds: d }),
    ...(c === undefined ? {} : { connections: c }),
    ...(n === undefined ? {} : { rounds: n }),
  };
  const fraction = arg("fixed-rate-fraction");
  const rate = arg("fixed-rate");
  const fixedRounds = arg("fixed-rate-rounds");
  const fixedDuration = arg("fixed-rate-duration");
  const fixedConnections = arg("fixed-rate-connections");
  const oi = process.argv.indexOf("--outbound");
  if (oi > 0) options.outbound = process.argv[oi + 1] as Outbound;
  if (fraction !== undefined) options.fixedRateFraction = fraction;
  if (rate !== undefined) options.fixedRate = rate;
  if (fixedRounds !== undefined) options.fixedRateRounds = fixedRounds;
  if (fixedDuration !== undefined) options.fixedRateDurationSeconds = fixedDuration;
  if (fixedConnections !== undefined) options.fixedRateConnections = fixedConnections;
  printThroughput(await benchGatewayThroughput(options));
}
