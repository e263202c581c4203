/**
 * The Istio configuration both gateway benchmarks apply: one Gateway host, one ServiceEntry with
 * the benchmark's upstream as a STATIC endpoint, one VirtualService routing everything to it.
 */
import { request } from "node:http";
import { loopbackServiceEntry } from "../../test/support/edge-gateway-upstreams.ts";

export const BENCH_HOST = "bench.example.com";

export function benchConfigYaml(upstreamPort: number): string {
  return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge, namespace: bench }
spec:
  servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["${BENCH_HOST}"] }]
---
${loopbackServiceEntry("upstream", "bench", upstreamPort)}apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: bench, namespace: bench }
spec:
  hosts: ["${BENCH_HOST}"]
  gateways: ["edge"]
  http: [{ name: all, route: [{ destination: { host: upstream.bench.internal } }] }]
`;
}

/** Status of one GET with a Host header (fetch may not set Host), bounded to 10 s. */
export function getStatus(url: string, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { host }, timeout: 10_000 }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on("error", reject);
    req.end();
  });
}
