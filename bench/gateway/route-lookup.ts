/**
 * Route lookup benchmark: Strait's compiled route table (the one the edge
 * gateway and the node proxy use) against Hono's RegExpRouter and TrieRouter
 * on equivalent routes, in the same run: N routes, half exact paths
 * (`/exact/rI` <-> Hono `/exact/rI`), half prefixes (`/prefix/rI/` <-> Hono
 * `/prefix/rI/*`), looked up with a fixed sample of paths hitting both kinds.
 * Strait's lookup also does what Hono's does not: virtual-host selection on
 * the Host header and Istio first-match order.
 *
 * Run: node --import tsx bench/gateway/route-lookup.ts
 */
import os from "node:os";
import { performance } from "node:perf_hooks";
import { RegExpRouter } from "hono/router/reg-exp-router";
import { TrieRouter } from "hono/router/trie-router";
import type { AnyResource } from "../../src/core/config/resource.ts";
import { compileSnapshots } from "../../src/core/snapshot/compile-snapshots.ts";
import { compileGatewayRoutes, lookupRoute, type RequestFacts } from "../../src/core/routing/index.ts";

export interface RouteLookupResult {
  routes: number;
  strait: number;
  regExpRouter: number;
  trieRouter: number;
  /** strait / max(regExpRouter, trieRouter). */
  ratioToBest: number;
}

function config(n: number): AnyResource[] {
  const http = Array.from({ length: n }, (_, i) =>
    i % 2 === 0
      ? { name: `r${i}`, match: [{ uri: { exact: `/exact/r${i}` } }], route: [{ destination: { host: "web" } }] }
      : { name: `r${i}`, match: [{ uri: { prefix: `/prefix/r${i}/` } }], route: [{ destination: { host: "web" } }] },
  );
  return [
    {
      apiVersion: "networking.istio.io/v1",
      kind: "Gateway",
      metadata: { name: "edge", namespace: "ingress" },
      spec: { servers: [{ port: { number: 80, name: "http", protocol: "HTTP" }, hosts: ["*.example.com"] }] },
    },
    {
      apiVersion: "networking.istio.io/v1",
      kind: "VirtualService",
      metadata: { name: "bench", namespace: "shop" },
      spec: { hosts: ["bench.example.com"], gateways: ["ingress/edge"], http },
    },
    {
      apiVersion: "networking.istio.io/v1",
      kind: "ServiceEntry",
      metadata: { name: "web", namespace: "shop" },
      spec: { hosts: ["web"], location: "MESH_INTERNAL", resolution: "STATIC", ports: [{ number: 80, name: "http", protocol: "HTTP" }], endpoints: [{ address: "10.0.0.1" }] },
    },
  ] as AnyResource[];
}

/** 1,000 lookup paths spread over the routes: exact hits and prefix hits with a tail. */
function samplePaths(n: number): string[] {
  const out: string[] = [];
  for (let k = 0; k < 1000; k++) {
    const i = Math.floor((k * 7919) % n);
    out.push(i % 2 === 0 ? `/exact/r${i}` : `/prefix/r${i}/items/${k}`);
  }
  return out;
}

/**
 * One timed round: as many passes over the sample as fit in `ms`; returns
 * lookups per second. Each router gets its own loop function (below), so no
 * call site is shared between routers and each is optimized for its router.
 */
function timed(pass: () => number, count: number, ms: number): number {
  let ops = 0;
  let sink = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < ms) {
    sink += pass();
    ops += count;
    elapsed = performance.now() - start;
  }
  if (sink < 0) console.log(sink);
  return (ops / elapsed) * 1000;
}

/**
 * Rounds interleave the three routers (A B C A B C ...) so machine noise hits
 * them alike; each router's figure is its best round.
 */
function race(passes: readonly (() => number)[], count: number): number[] {
  for (const p of passes) for (let i = 0; i < 20; i++) p();
  const best = passes.map(() => 0);
  for (let round = 0; round < 5; round++) {
    passes.forEach((p, i) => {
      best[i] = Math.max(best[i]!, timed(p, count, 150));
    });
  }
  return best;
}

export async function benchRouteLookup(sizes: readonly number[] = [10, 1_000, 10_000]): Promise<RouteLookupResult[]> {
  const results: RouteLookupResult[] = [];
  for (const n of sizes) {
    const { gateway } = compileSnapshots({ resources: config(n), trustDomain: "strait.local" });
    const table = compileGatewayRoutes(gateway);
    const paths = samplePaths(n);
    const facts: RequestFacts[] = paths.map((path) => ({ method: "GET", scheme: "http", authority: "bench.example.com", path, port: 80, headers: new Map() }));
    const regexp = new RegExpRouter<number>();
    const trie = new TrieRouter<number>();
    for (let i = 0; i < n; i++) {
      const p = i % 2 === 0 ? `/exact/r${i}` : `/prefix/r${i}/*`;
      regexp.add("GET", p, i);
      trie.add("GET", p, i);
    }
    // Same answers first: every sampled path resolves to the same route index everywhere.
    for (let k = 0; k < paths.length; k++) {
      const ours = lookupRoute(table, facts[k]!);
      const want = ours.kind === "route" ? ours.source.index : -1;
      const a = regexp.match("GET", paths[k]!)[0][0]?.[0];
      const b = trie.match("GET", paths[k]!)[0][0]?.[0];
      if (want !== a || want !== b) throw new Error(`routers disagree on ${paths[k]}: strait ${want}, RegExpRouter ${a}, TrieRouter ${b}`);
    }
    const straitPass = () => {
      let hits = 0;
      for (let i = 0; i < facts.length; i++) if (lookupRoute(table, facts[i]!).kind === "route") hits++;
      return hits;
    };
    const regexpPass = () => {
      let hits = 0;
      for (let i = 0; i < paths.length; i++) if (regexp.match("GET", paths[i]!)[0][0] !== undefined) hits++;
      return hits;
    };
    const triePass = () => {
      let hits = 0;
      for (let i = 0; i < paths.length; i++) if (trie.match("GET", paths[i]!)[0][0] !== undefined) hits++;
      return hits;
    };
    const [strait, regExpRouter, trieRouter] = race([straitPass, regexpPass, triePass], paths.length) as [number, number, number];
    results.push({ routes: n, strait, regExpRouter, trieRouter, ratioToBest: strait / Math.max(regExpRouter, trieRouter) });
  }
  console.log("\nroute lookups per second (same run, interleaved rounds, best of 5; 1,000 sampled paths, half exact / half prefix routes)");
  console.log("routes   strait        RegExpRouter  TrieRouter    strait/RegExp  strait/Trie  strait/best");
  for (const r of results) {
    const f = (x: number) => Math.round(x).toLocaleString("en-US").padStart(12);
    console.log(
      `${String(r.routes).padEnd(8)} ${f(r.strait)}  ${f(r.regExpRouter)}  ${f(r.trieRouter)}  ${(r.strait / r.regExpRouter).toFixed(2).padStart(12)}x  ${(r.strait / r.trieRouter).toFixed(2).padStart(10)}x  ${r.ratioToBest.toFixed(2).padStart(10)}x`,
    );
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(`machine: ${os.cpus()[0]?.model ?? "unknown cpu"}, ${os.cpus().length} cores, node ${process.version}`);
  await benchRouteLookup();
}
