/**
 * CPU profile of the edge gateway inside workerd while autocannon drives it: Miniflare's
 * inspector socket, the DevTools protocol's sampling profiler, and a table of the functions
 * with the most self time (and the gateway's own modules by inclusive time). For finding
 * hot spots, not for figures: the inspector itself slows the isolate a little.
 *
 * `--bare` profiles the benchmark's bare forwarding worker instead (same upstream, same load), the
 * baseline the gateway's profile is read against.
 *
 *   node --import tsx bench/gateway/profile-gateway.ts [seconds] [--bare] [--out profile.cpuprofile]
 */
import { writeFile } from "node:fs/promises";
import autocannon from "autocannon";
import { Miniflare } from "miniflare";
import { WebSocket } from "undici";
import { createThrowawayCa } from "../../test/support/throwaway-ca.ts";
import { startEdgeMesh } from "../../test/support/edge-gateway-mesh.ts";
import { BENCH_HOST, benchConfigYaml, getStatus } from "./bench-config.ts";
import { BARE_FORWARDER, COMPATIBILITY } from "./throughput.ts";
import { startUpstreamProcess } from "./upstream-process.ts";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

class Inspector {
  private next = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private constructor(private readonly ws: WebSocket) {
    ws.addEventListener("message", (ev) => {
      const msg = JSON.parse(String(ev.data)) as { id?: number; result?: unknown; error?: { message: string } };
      if (msg.id === undefined) return;
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.error !== undefined) p?.reject(new Error(msg.error.message));
      else p?.resolve(msg.result);
    });
  }
  static async connect(url: string): Promise<Inspector> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener("open", () => resolve(), { once: true });
      ws.addEventListener("error", () => reject(new Error(`inspector connection to ${url} failed`)), { once: true });
    });
    return new Inspector(ws);
  }
  send<T>(method: string, params: Record<string, unknown> = {}): Promise<T> {
    const id = this.next++;
    this.ws.send(JSON.stringify({ id, method, params }));
    return new Promise<T>((resolve, reject) => this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject }));
  }
  close(): void {
    this.ws.close();
  }
}

function summarize(profile: CpuProfile, top = 40): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<number, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    self.set(id, (self.get(id) ?? 0) + dt);
    total += dt;
  });
  const label = (n: ProfileNode) => `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url.split("/").slice(-1)[0] ?? ""}:${n.callFrame.lineNumber + 1}`;
  const selfBy = new Map<string, number>();
  const inclBy = new Map<string, number>();
  for (const [id, t] of self) {
    const n = byId.get(id)!;
    selfBy.set(label(n), (selfBy.get(label(n)) ?? 0) + t);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(byId.get(cur)!);
      if (seen.has(l)) continue;
      seen.add(l);
      inclBy.set(l, (inclBy.get(l) ?? 0) + t);
    }
  }
  const idle = [...selfBy].filter(([k]) => k.startsWith("(idle)") || k.startsWith("(program)")).reduce((a, [, v]) => a + v, 0);
  const lines = [`samples: ${profile.samples.length}, total ${(total / 1000).toFixed(0)} ms, idle+program ${((idle / total) * 100).toFixed(1)} %`, "", "self time:"];
  for (const [k, v] of [...selfBy].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`${((v / total) * 100).toFixed(1).padStart(5)} %  ${k}`);
  lines.push("", "inclusive time (top):");
  for (const [k, v] of [...inclBy].sort((a, b) => b[1] - a[1]).slice(0, top)) lines.push(`${((v / total) * 100).toFixed(1).padStart(5)} %  ${k}`);
  return lines.join("\n");
}

const seconds = Number(process.argv[2] ?? "10");
const outIdx = process.argv.indexOf("--out");
const out = outIdx > 0 ? process.argv[outIdx + 1] : undefined;
const bare = process.argv.includes("--bare");

/** Drives `url` with autocannon while the isolate behind `inspectorUrl` is profiled. */
async function profileUnderLoad(name: string, url: string, inspectorUrl: string): Promise<void> {
  await autocannon({ url, connections: 16, duration: 2, headers: { host: BENCH_HOST } });
  const insp = await Inspector.connect(inspectorUrl);
  await insp.send("Profiler.enable");
  await insp.send("Profiler.setSamplingInterval", { interval: 200 });
  await insp.send("Profiler.start");
  const r = await autocannon({ url, connections: 16, duration: seconds, headers: { host: BENCH_HOST } });
  const { profile } = await insp.send<{ profile: CpuProfile }>("Profiler.stop");
  insp.close();
  console.log(`${name} under profiler: ${Math.round(r.requests.average)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, non-2xx ${r.non2xx}`);
  console.log(summarize(profile));
  if (out !== undefined) await writeFile(out, JSON.stringify(profile));
}

const upstream = await startUpstreamProcess();
try {
  if (bare) {
    const mf = new Miniflare({
      host: "127.0.0.1",
      port: 0,
      inspectorPort: 0,
      workers: [{ name: "bare", modules: true, script: BARE_FORWARDER(`http://127.0.0.1:${upstream.port}`), ...COMPATIBILITY, unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }] }],
    });
    try {
      await mf.ready;
      const url = new URL("/bench", await mf.unsafeGetDirectURL("bare")).href;
      await profileUnderLoad("bare forwarding worker", url, new URL("/core:user:bare", await mf.getInspectorURL()).href);
    } finally {
      await mf.dispose();
    }
  } else {
    const ca = await createThrowawayCa();
    const mesh = await startEdgeMesh({ controlVars: ca.vars, gatewayVars: { ACCESS_LOG: "off" }, inspectorPort: 0 });
    try {
      const res = await mesh.control("/v1/apply", { method: "POST", headers: { authorization: `Bearer ${ca.adminToken}`, "content-type": "application/yaml" }, body: benchConfigYaml(upstream.port) });
      if (res.status !== 200) throw new Error(`apply failed: ${res.status} ${await res.text()}`);
      const url = new URL("/bench", mesh.gatewayUrl).href;
      for (let i = 0; ; i++) {
        const status = await getStatus(url, BENCH_HOST);
        if (status === 200) break;
        if (i > 100) throw new Error(`the gateway never routed the bench host (${status})`);
        await new Promise((r) => setTimeout(r, 200));
      }
      await profileUnderLoad("gateway", url, new URL("/core:user:strait-gateway", await mesh.mf.getInspectorURL()).href);
    } finally {
      await mesh.dispose();
    }
  }
} finally {
  await upstream.stop();
}
