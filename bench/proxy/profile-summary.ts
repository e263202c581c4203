/**
 * Summarises V8 CPU profiles (`node --cpu-prof`, as `BENCH_CPU_PROF=<dir>` makes for each proxy
 * process of the benchmark): the top functions by self time, and self time by area (TLS/crypto,
 * HTTP/1 parsing and writing, HTTP/2, streams, our code, libraries, GC, idle).
 *
 *   node --import tsx bench/proxy/profile-summary.ts <file.cpuprofile>... [--top 25]
 */
import { readFile } from "node:fs/promises";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** The area a frame's self time is charged to, from its script URL and name. */
export function areaOf(fn: string, url: string): string {
  if (fn === "(garbage collector)") return "GC";
  if (fn === "(idle)") return "idle";
  // The inspector session's own dispatch (Profiler.stop serialising the profile): not the proxy's work.
  if (fn === "dispatch" && url === "") return "idle";
  if (fn === "(program)") return "native (program: libuv, OpenSSL, nghttp2, llhttp outside JS frames)";
  if (url.includes("/src/node-proxy/")) return "strait node-proxy";
  if (url.endsWith("/proxy-process.mjs")) return "bundled JS (strait + libraries; run through tsx to split)";
  if (url.includes("/src/core/")) return "strait core (routing, policy)";
  if (url.includes("node_modules/prom-client")) return "prom-client";
  if (url.includes("node_modules/@opentelemetry")) return "opentelemetry";
  if (url.includes("node_modules/")) return "other libraries";
  if (/node:(internal\/)?(tls|_tls|crypto)|internal\/tls|_tls_|internal\/crypto/.test(url)) return "TLS/crypto (JS side)";
  if (/internal\/http2|node:http2/.test(url)) return "HTTP/2 (JS side)";
  if (/_http_|node:http$|internal\/http/.test(url)) return "HTTP/1 parse/serialise (JS side)";
  if (/internal\/streams|node:stream/.test(url)) return "streams";
  if (/net\.js|node:net|stream_base_commons|internal\/net/.test(url)) return "net/sockets";
  if (/internal\/(timers|process\/task_queues)|node:timers/.test(url)) return "timers/microtasks";
  if (url === "" && fn !== "") return "native builtins (no script)";
  return "node other";
}

export interface ProfileSummary {
  totalMs: number;
  busyMs: number;
  top: { fn: string; where: string; ms: number; pctBusy: number }[];
  areas: { area: string; ms: number; pctBusy: number }[];
}

export function summarise(p: CpuProfile, topN = 25): ProfileSummary {
  const self = new Map<number, number>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) self.set(samples[i]!, (self.get(samples[i]!) ?? 0) + (deltas[i] ?? 0) / 1000);
  const byFn = new Map<string, { fn: string; where: string; ms: number }>();
  const byArea = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const n of p.nodes) {
    const ms = self.get(n.id) ?? 0;
    if (ms === 0) continue;
    const { functionName, url, lineNumber } = n.callFrame;
    const fn = functionName || "(anonymous)";
    const where = url === "" ? "" : `${url.replace(/^file:\/\/.*?\/(src|node_modules|bench)\//, "$1/")}:${lineNumber + 1}`;
    const area = areaOf(functionName, url);
    total += ms;
    if (area === "idle") {
      idle += ms;
      continue;
    }
    byArea.set(area, (byArea.get(area) ?? 0) + ms);
    const key = `${fn}@${where}`;
    const e = byFn.get(key) ?? { fn, where, ms: 0 };
    e.ms += ms;
    byFn.set(key, e);
  }
  const busy = total - idle;
  const pct = (ms: number) => (busy > 0 ? (ms / busy) * 100 : 0);
  return {
    totalMs: total,
    busyMs: busy,
    top: [...byFn.values()].sort((a, b) => b.ms - a.ms).slice(0, topN).map((e) => ({ ...e, pctBusy: pct(e.ms) })),
    areas: [...byArea.entries()].sort((a, b) => b[1] - a[1]).map(([area, ms]) => ({ area, ms, pctBusy: pct(ms) })),
  };
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].replace(/^.*\//, "/"))) {
  const args = process.argv.slice(2);
  const ti = args.indexOf("--top");
  const topN = ti >= 0 ? Number(args[ti + 1]) : 25;
  const files = args.filter((a, i) => a !== "--top" && (ti < 0 || i !== ti + 1));
  for (const file of files) {
    const s = summarise(JSON.parse(await readFile(file, "utf8")) as CpuProfile, topN);
    console.log(`\n${file}: ${(s.totalMs / 1000).toFixed(1)} s profiled, ${(s.busyMs / 1000).toFixed(1)} s busy`);
    console.log("  self time by area (% of busy):");
    for (const a of s.areas) console.log(`    ${a.pctBusy.toFixed(1).padStart(5)}%  ${a.area}`);
    console.log("  top functions by self time (% of busy):");
    for (const t of s.top) console.log(`    ${t.pctBusy.toFixed(1).padStart(5)}%  ${t.fn}  ${t.where}`);
  }
}
