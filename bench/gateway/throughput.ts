/**
 * Requests per second and p50/p99 latency through the edge gateway in workerd against a bare
 * forwarding worker, both driven through Miniflare's own sockets (not wrangler dev's proxy) with
 * autocannon, in the same run, to the same local upstream. Prints the ratios (goal: >= 0.8x).
 *
 *   node --import tsx bench/gateway/throughput.ts
 */
import os from "node:os";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import autocannon from "autocannon";
import { Miniflare } from "miniflare";
import { createThrowawayCa } from "../../test/support/throwaway-ca.ts";
import { startEdgeMesh } from "../../test/support/edge-gateway-mesh.ts";

export interface ThroughputResult {
  name: string;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
}

const BARE_FORWARDER = (upstream: string) => `
export default {
  async fetch(request) {
    const url = new URL(request.url);
    return fetch("${upstream}" + url.pathname + url.search, { method: request.method, headers: request.headers, body: request.body });
  },
};`;

async function drive(name: string, url: string, o: { durationSeconds: number; connections: number }): Promise<ThroughputResult> {
  const r = await autocannon({ url, connections: o.connections, duration: o.durationSeconds, headers: { host: "bench.example.com" } });
  return { name, requestsPerSecond: r.requests.average, p50Ms: r.latency.p50, p99Ms: r.latency.p99, errors: r.errors, non2xx: r.non2xx };
}

export async function benchGatewayThroughput(o: { durationSeconds?: number; connections?: number; rounds?: number } = {}): Promise<{ gateway: ThroughputResult; bare: ThroughputResult }> {
  const durationSeconds = o.durationSeconds ?? 5;
  const connections = o.connections ?? 16;
  const upstream = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/plain", "content-length": "2" });
    res.end("ok");
  });
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.1", r));
  const port = (upstream.address() as AddressInfo).port;
  const ca = await createThrowawayCa();
  const mesh = await startEdgeMesh({ controlVars: ca.vars, gatewayVars: { ACCESS_LOG: "off" } });
  // Both workers are reached the same way: a direct socket of their own Miniflare (no entry hop).
  const bare = new Miniflare({
    host: "127.0.0.1",
    port: 0,
    workers: [{ name: "bare", modules: true, script: BARE_FORWARDER(`http://127.0.0.1:${port}`), compatibilityDate: "2026-04-01", unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }] }],
  });
  try {
    const res = await mesh.control("/v1/apply", {
      method: "POST",
      headers: { authorization: `Bearer ${ca.adminToken}`, "content-type": "application/yaml" },
      body: `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge, namespace: bench }
spec:
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["bench.example.com"] }]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: upstream, namespace: bench }
spec:
  hosts: ["upstream.bench.internal"]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{ number: 80, name: http, protocol: HTTP }]
  endpoints: [{ address: 127.0.0.1, ports: { http: ${port} } }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: bench, namespace: bench }
spec:
  hosts: ["bench.example.com"]
  gateways: ["edge"]
  http: [{ name: all, route: [{ destination: { host: upstream.bench.internal } }] }]
`,
    });
    if (res.status !== 200) throw new Error(`apply failed: ${res.status} ${await res.text()}`);
    const gatewayUrl = new URL("/bench", mesh.gatewayUrl).href;
    await bare.ready;
    const bareUrl = new URL("/bench", await bare.unsafeGetDirectURL("bare")).href;
    // Wait for the route, then warm both paths.
    for (let i = 0; ; i++) {
      const r = await drive("probe", gatewayUrl, { durationSeconds: 1, connections: 1 });
      if (r.non2xx === 0 && r.errors === 0) break;
      if (i > 20) throw new Error("the gateway never routed the bench host");
    }
    await drive("warm", bareUrl, { durationSeconds: 1, connections });
    // Interleaved rounds, best of each, so neither side is favoured by when it ran.
    let gateway: ThroughputResult | undefined;
    let bareBest: ThroughputResult | undefined;
    for (let round = 0; round < (o.rounds ?? 2); round++) {
      const g = await drive("gateway (Strait edge gateway in workerd)", gatewayUrl, { durationSeconds, connections });
      const b = await drive("bare forwarding worker (workerd)", bareUrl, { durationSeconds, connections });
      if (gateway === undefined || g.requestsPerSecond > gateway.requestsPerSecond) gateway = g;
      if (bareBest === undefined || b.requestsPerSecond > bareBest.requestsPerSecond) bareBest = b;
    }
    return { gateway: gateway!, bare: bareBest! };
  } finally {
    await bare.dispose();
    await mesh.dispose();
    upstream.closeAllConnections();
    await new Promise<void>((r) => upstream.close(() => r()));
  }
}

export function printThroughput(r: { gateway: ThroughputResult; bare: ThroughputResult }): void {
  console.log("\nthroughput through Miniflare's sockets (autocannon, same run, same upstream, best of interleaved rounds)");
  console.log("path                                        req/s      p50 ms   p99 ms   errors  non-2xx");
  for (const x of [r.gateway, r.bare]) {
    console.log(`${x.name.padEnd(42)} ${Math.round(x.requestsPerSecond).toString().padStart(7)}  ${x.p50Ms.toFixed(1).padStart(7)}  ${x.p99Ms.toFixed(1).padStart(7)}  ${String(x.errors).padStart(6)}  ${String(x.non2xx).padStart(7)}`);
  }
  console.log(
    `gateway / bare: ${(r.gateway.requestsPerSecond / r.bare.requestsPerSecond).toFixed(2)}x req/s (goal >= 0.80x), p50 ${(r.gateway.p50Ms / Math.max(r.bare.p50Ms, 0.001)).toFixed(2)}x, p99 ${(r.gateway.p99Ms / Math.max(r.bare.p99Ms, 0.001)).toFixed(2)}x latency`,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(`machine: ${os.cpus()[0]?.model ?? "unknown cpu"}, ${os.cpus().length} cores, node ${process.version}`);
  printThroughput(await benchGatewayThroughput());
}
