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
import { median } from "./median.ts";
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
  /** strait / max(regExpRouter, trieRouter), best rounds. */
  ratioToBest: number;
  /** Median over rounds of strait / max(regExpRouter, trieRouter) measured in the same round. */
  medianRoundRatio: number;
  /** The lowest of those per-round ratios. */
  worstRoundRatio: number;
  /** Strait with the Host alternating between two spellings (no one-entry cache hit), best round. */
  straitMixedHost: number;
  /** Median per-round ratio of that variant over the better Hono router. */
  mixedHostMedianRoundRatio: number;
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
 * One timed round: as many passes over the sample as fit in `ms` of wall
 * time; returns lookups per second of CPU time used by this process
 * (`process.cpuUsage`), so time the scheduler gives to the other jobs on a
 * loaded machine is not counted against whichever router happened to run
 * then. Each router gets its own loop function (below), so no call site is
 * shared between routers and each is optimized for its router.
 */
function timed(pass: () => number, count: number, ms: number): number {
  let ops = 0;
  let sink = 0;
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  while (performance.now() - start < ms) {
    sink += pass();
    ops += count;
  }
  const cpu = process.cpuUsage(cpu0);
  if (sink < 0) console.log(sink);
  return ops / ((cpu.user + cpu.system) / 1e6);
}

export interface RaceResult {
  /** Best round per router (lookups per CPU second). */
  best: number[];
  /** Per round, every router's rate in that round (same order as the passes). */
  rounds: number[][];
}

/**
 * Rounds interleave the routers (A B C A B C ...) so machine noise hits
 * them alike; each router's figure is its best round, and the rounds also
 * give paired ratios (routers measured back to back).
 */
export function race(passes: readonly (() => number)[], count: number, rounds = ROUNDS, ms = ROUND_MS): RaceResult {
  for (const p of passes) for (let i = 0; i < 50; i++) p();
  const best = passes.map(() => 0);
  const all: number[][] = [];
  for (let round = 0; round < rounds; round++) {
    all.push(
      passes.map((p, i) => {
        const r = timed(p, count, ms);
        best[i] = Math.max(best[i]!, r);
        return r;
      }),
    );
  }
  return { best, rounds: all };
}

const ROUNDS = 25;
const ROUND_MS = 40;

/**
 * A flat copy of `s`. Template literals build rope (cons) strings; a request
 * path from a parsed URL is a flat string, so every router is given those.
 */
function flat(s: string): string {
  return JSON.parse(JSON.stringify(s)) as string;
}

export async function benchRouteLookup(sizes: readonly number[] = [10, 1_000, 10_000]): Promise<RouteLookupResult[]> {
  const results: RouteLookupResult[] = [];
  for (const n of sizes) {
    const { gateway } = compileSnapshots({ resources: config(n), trustDomain: "strait.local" });
    const table = compileGatewayRoutes(gateway);
    const paths = samplePaths(n).map(flat);
    // Strait is given what the gateway gives it per request (Host, port, scheme, method, path); Hono the method and path.
    const facts: RequestFacts[] = paths.map((path) => ({ method: "GET", scheme: "http", authority: "bench.example.com", path, port: 80, headers: new Map() }));
    const mixedFacts: RequestFacts[] = facts.map((f, i) => ({ ...f, authority: i % 2 === 0 ? "bench.example.com" : "bench.example.com:80" }));
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
      const mixed = lookupRoute(table, mixedFacts[k]!);
      const c = mixed.kind === "route" ? mixed.source.index : -1;
      if (want !== a || want !== b || want !== c) throw new Error(`routers disagree on ${paths[k]}: strait ${want} (${c} with Host varied), RegExpRouter ${a}, TrieRouter ${b}`);
    }
    // Every pass reads the answer's route (Strait) or handler (Hono), so no router's result is dead code.
    const straitPass = () => {
      let sum = 0;
      for (let i = 0; i < facts.length; i++) {
        const r = lookupRoute(table, facts[i]!);
        if (r.kind === "route") sum += r.source.index;
      }
      return sum;
    };
    // The same with the Host spelled two ways in turn (`:80` is ignored), so the one-entry Host cache never
    // hits and every lookup pays the per-listener Host memo, as with a gateway serving interleaved hosts.
    const straitMixedPass = () => {
      let sum = 0;
      for (let i = 0; i < mixedFacts.length; i++) {
        const r = lookupRoute(table, mixedFacts[i]!);
        if (r.kind === "route") sum += r.source.index;
      }
      return sum;
    };
    const regexpPass = () => {
      let sum = 0;
      for (let i = 0; i < paths.length; i++) {
        const h = regexp.match("GET", paths[i]!)[0][0];
        if (h !== undefined) sum += h[0];
      }
      return sum;
    };
    const triePass = () => {
      let sum = 0;
      for (let i = 0; i < paths.length; i++) {
        const h = trie.match("GET", paths[i]!)[0][0];
        if (h !== undefined) sum += h[0];
      }
      return sum;
    };
    const { best, rounds } = race([straitPass, regexpPass, triePass, straitMixedPass], paths.length);
    const [strait, regExpRouter, trieRouter, straitMixedHost] = best as [number, number, number, number];
    const paired = (i: number) => rounds.map((r) => r[i]! / Math.max(r[1]!, r[2]!));
    results.push({
      routes: n,
      strait,
      regExpRouter,
      trieRouter,
      ratioToBest: strait / Math.max(regExpRouter, trieRouter),
      medianRoundRatio: median(paired(0)),
      worstRoundRatio: Math.min(...paired(0)),
      straitMixedHost,
      mixedHostMedianRoundRatio: median(paired(3)),
    });
  }
  console.log(
    `\nroute lookups per CPU second (same run, ${ROUNDS} interleaved rounds of ${ROUND_MS} ms per router; 1,000 sampled paths, half exact / half prefix routes)`,
  );
  console.log("strait is given Host, port, scheme, method and path (and selects the virtual host); Hono method and path.");
  console.log("lookups/s: best round per router. s/RegExp, s/Trie, s/best: strait over RegExpRouter, TrieRouter, the better of the two (best rounds);");
  console.log("median, worst: strait over the better Hono router measured in the same round; mixed Host: strait with the Host spelled two ways in turn (median)");
  console.log("routes   strait        RegExpRouter  TrieRouter    s/RegExp  s/Trie   s/best  median   worst  mixed Host");
  for (const r of results) {
    const f = (x: number) => Math.round(x).toLocaleString("en-US").padStart(12);
    const x = (v: number, w: number) => `${v.toFixed(2)}x`.padStart(w);
    console.log(
      `${String(r.routes).padEnd(8)} ${f(r.strait)}  ${f(r.regExpRouter)}  ${f(r.trieRouter)}  ${x(r.strait / r.regExpRouter, 8)} ${x(r.strait / r.trieRouter, 7)} ${x(r.ratioToBest, 7)} ${x(r.medianRoundRatio, 7)} ${x(r.worstRoundRatio, 7)} ${x(r.mixedHostMedianRoundRatio, 11)}`,
    );
  }
  return results;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(`machine: ${os.cpus()[0]?.model ?? "unknown cpu"}, ${os.cpus().length} cores, node ${process.version}, load average ${os.loadavg().map((l) => l.toFixed(1)).join(" ")}`);
  await benchRouteLookup();
}
