/**
 * What each piece of a gateway's required per-request work costs in workerd: a ladder of
 * forwarding workers from the bare forwarder (throughput.ts's BARE_FORWARDER) to the Istio-minimum
 * forwarder (MINIMUM_FORWARDER), each step adding one piece, plus one step that forwards 20 more
 * request headers (the cost of one upstream request header, amplified). Each worker runs in its own
 * workerd from Miniflare, reached on a direct socket, all forwarding to one upstream in its own
 * process; interleaved rounds whose order rotates; workerd CPU per request from /proc, medians, and
 * each step's cost as the median of its per-round difference to the step before it.
 *
 *   node --import tsx bench/gateway/forwarder-costs.ts [--rounds 8] [--duration 3] [--connections 16] [--outbound miniflare | direct]
 *
 * `--outbound` as in throughput.ts: "miniflare" (default) sends every subrequest through Miniflare's
 * `stripCfConnectingIp` worker, "direct" does not.
 */
import os from "node:os";
import autocannon from "autocannon";
import { Miniflare } from "miniflare";
import { BENCH_HOST } from "./bench-config.ts";
import { median } from "./median.ts";
import { processCpuMs, workerdChildren } from "./process-cpu.ts";
import { BARE_FORWARDER, COMPATIBILITY, MINIMUM_FORWARDER, type Outbound } from "./throughput.ts";
import { startUpstreamProcess } from "./upstream-process.ts";

interface Step {
  name: string;
  /** What this step adds to the one before it (the first: what it is). */
  adds: string;
  script(upstream: string): string;
}

const WALK = `const headers = new Map(); request.headers.forEach((v, k) => { headers.set(k, v); }); const out = Object.create(null); for (const [k, v] of headers) if (k !== "host") out[k] = v;`;
const ENVOY = `out["x-request-id"] = "0c8a2b4e-6f1d-4e3a-9b7c-5d2e8f0a1b3c"; out["x-forwarded-proto"] = "http"; out["x-forwarded-host"] = headers.get("host") ?? url.host; out["x-envoy-attempt-count"] = "1";`;
const MORE = `for (let i = 0; i < 20; i++) out["x-extra-" + i] = "value-" + i;`;
const forwarder = (upstream: string, before: string, headers: string, after: string) => `
export default {
  async fetch(request) {
    const url = new URL(request.url);
    ${before}
    const fetched = await fetch(${JSON.stringify(upstream)} + url.pathname + url.search, { method: request.method, headers: ${headers}, body: request.body, redirect: "manual" });
    ${after}
  },
};`;
const STATUS = `if (fetched.status === 503) return new Response("retry", { status: 503 });`;

export const STEPS: readonly Step[] = [
  { name: "bare", adds: "fetch(upstream + path) with the request's own Headers, its response returned", script: BARE_FORWARDER },
  { name: "await", adds: "awaits the response and reads its status (a retry policy must)", script: (u) => forwarder(u, "", "request.headers", `${STATUS} return fetched;`) },
  { name: "headers", adds: "reads the request headers into a Map once and forwards them as a record without Host", script: (u) => forwarder(u, WALK, "out", `${STATUS} return fetched;`) },
  { name: "envoy-headers", adds: "the request headers Envoy adds (x-request-id, x-forwarded-proto, x-envoy-attempt-count) and x-forwarded-host", script: (u) => forwarder(u, `${WALK} ${ENVOY}`, "out", `${STATUS} return fetched;`) },
  { name: "response-copy", adds: "copies the response (fetched headers are immutable)", script: (u) => forwarder(u, `${WALK} ${ENVOY}`, "out", `const res = new Response(fetched.body, fetched); if (res.status === 503) return new Response("retry", { status: 503 }); return res;`) },
  { name: "istio-minimum", adds: "a random x-request-id, grpc-status read, x-envoy-upstream-service-time set (MINIMUM_FORWARDER)", script: MINIMUM_FORWARDER },
  { name: "20-more-headers", adds: "20 more request headers on the response-copy step (cost of one header x 20)", script: (u) => forwarder(u, `${WALK} ${ENVOY} ${MORE}`, "out", `const res = new Response(fetched.body, fetched); if (res.status === 503) return new Response("retry", { status: 503 }); return res;`) },
];

/** The step each step's cost is measured against. */
const BASELINE: Readonly<Record<string, string>> = { "20-more-headers": "response-copy" };

export interface StepResult {
  name: string;
  adds: string;
  requestsPerSecond: number;
  cpuUsPerRequest: number;
  /** Median of the per-round differences to the step before it (or its BASELINE). */
  addedUs: number;
  against: string | undefined;
  perRoundUs: number[];
}

export async function benchForwarderCosts(o: { rounds?: number; durationSeconds?: number; connections?: number; outbound?: Outbound } = {}): Promise<StepResult[]> {
  const rounds = o.rounds ?? 8;
  const durationSeconds = o.durationSeconds ?? 3;
  const connections = o.connections ?? 16;
  const outbound = o.outbound ?? "miniflare";
  if (outbound !== "miniflare" && outbound !== "direct") throw new TypeError(`outbound must be "miniflare" or "direct" (got ${String(outbound)})`);
  const upstream = await startUpstreamProcess();
  const upstreamUrl = `http://127.0.0.1:${upstream.port}`;
  const started: { step: Step; mf: Miniflare; url: string; pid: number }[] = [];
  try {
    for (const step of STEPS) {
      const before = new Set(await workerdChildren());
      const mf = new Miniflare({
        host: "127.0.0.1",
        port: 0,
        workers: [{ name: "w", modules: true, script: step.script(upstreamUrl), ...COMPATIBILITY, stripCfConnectingIp: outbound === "miniflare", unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }] }],
      });
      await mf.ready;
      const added = (await workerdChildren()).filter((p) => !before.has(p));
      if (added.length !== 1) throw new Error(`cannot tell the workerd of step ${step.name} (${added.length} new workerd processes)`);
      started.push({ step, mf, url: new URL("/bench", await mf.unsafeGetDirectURL("w")).href, pid: added[0]! });
    }
    const drive = async (s: (typeof started)[number], seconds: number) => {
      const cpu0 = await processCpuMs(s.pid);
      const r = await autocannon({ url: s.url, connections, duration: seconds, headers: { host: BENCH_HOST } });
      const cpu1 = await processCpuMs(s.pid);
      if (r.non2xx > 0 || r.errors > 0) throw new Error(`step ${s.step.name}: ${r.non2xx} non-2xx responses, ${r.errors} errors`);
      return { rps: r.requests.total / seconds, cpuUs: ((cpu1 - cpu0) * 1000) / r.requests.total };
    };
    for (const s of started) await drive(s, 2);
    const per: Record<string, { rps: number; cpuUs: number }[]> = {};
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < started.length; i++) {
        const s = started[(i + round) % started.length]!;
        (per[s.step.name] ??= []).push(await drive(s, durationSeconds));
      }
    }
    return STEPS.map((step, i) => {
      const against = BASELINE[step.name] ?? STEPS[i - 1]?.name;
      const mine = per[step.name]!;
      const base = against === undefined ? undefined : per[against]!;
      return {
        name: step.name,
        adds: step.adds,
        requestsPerSecond: median(mine.map((r) => r.rps)),
        cpuUsPerRequest: median(mine.map((r) => r.cpuUs)),
        addedUs: base === undefined ? 0 : median(mine.map((r, k) => r.cpuUs - base[k]!.cpuUs)),
        against,
        perRoundUs: mine.map((r) => r.cpuUs),
      };
    });
  } finally {
    for (const s of started) await s.mf.dispose();
    await upstream.stop();
  }
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const n = (s: string | undefined) => (s === undefined ? undefined : Number(s));
  const outbound = (arg("outbound") ?? "miniflare") as Outbound;
  const rounds = n(arg("rounds"));
  const duration = n(arg("duration"));
  const connections = n(arg("connections"));
  console.log(`machine: ${os.cpus()[0]?.model ?? "unknown cpu"}, ${os.cpus().length} cores, node ${process.version}, load average ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`);
  const results = await benchForwarderCosts({
    outbound,
    ...(rounds === undefined ? {} : { rounds }),
    ...(duration === undefined ? {} : { durationSeconds: duration }),
    ...(connections === undefined ? {} : { connections }),
  });
  console.log(`\nworkerd CPU per request, ${outbound === "miniflare" ? "subrequests through Miniflare's outbound worker" : "subrequests sent directly"} (medians over rounds; load average ${os.loadavg().map((l) => l.toFixed(1)).join(" ")})`);
  console.log("step               req/s  CPU µs/req  added µs  against          adds");
  for (const r of results) {
    console.log(`${r.name.padEnd(16)} ${Math.round(r.requestsPerSecond).toString().padStart(7)}  ${r.cpuUsPerRequest.toFixed(1).padStart(10)}  ${(r.against === undefined ? "" : (r.addedUs >= 0 ? "+" : "") + r.addedUs.toFixed(1)).padStart(8)}  ${(r.against ?? "").padEnd(15)}  ${r.adds}`);
  }
}
