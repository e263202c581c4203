/**
 * Control-plane benchmark.
 *
 * 1. Pure compile (in-process, no I/O): compile time and snapshot size (bytes of
 *    canonical JSON, gateway + one node) for 100, 1,000 and 10,000 services with
 *    as many routes.
 * 2. End to end in real workerd (test/support/control-worker.ts): time from an
 *    apply until the new node snapshot is readable in KV, and until a waiting
 *    long-poll answers.
 *
 * Run: node --import tsx bench/control.ts
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { getPlatformProxy } from "wrangler";
import type { AnyResource } from "../src/core/config/resource.ts";
import { compileSnapshots } from "../src/core/snapshot/compile-snapshots.ts";
import { projectRoot, startControlWorker } from "../test/support/control-worker.ts";
import { createThrowawayCa, opensslCsr } from "../test/support/throwaway-ca.ts";

const NODES = 10;

/** `n` services, each a ServiceEntry + WorkloadEntry (spread over NODES nodes) + VirtualService; every 10th is on the gateway. */
export function syntheticConfig(n: number): AnyResource[] {
  const out: AnyResource[] = [
    {
      apiVersion: "networking.istio.io/v1",
      kind: "Gateway",
      metadata: { name: "edge", namespace: "ingress" },
      spec: { selector: { istio: "ingressgateway" }, servers: [{ port: { number: 80, name: "http", protocol: "HTTP" }, hosts: ["*.example.com"] }] },
    },
  ];
  for (let i = 0; i < n; i++) {
    const ns = `ns${i % 20}`;
    const name = `svc${i}`;
    out.push(
      {
        apiVersion: "networking.istio.io/v1",
        kind: "ServiceEntry",
        metadata: { name, namespace: ns },
        spec: { hosts: [name], location: "MESH_INTERNAL", resolution: "STATIC", ports: [{ number: 80, name: "http", protocol: "HTTP" }], workloadSelector: { labels: { app: name } } },
      },
      {
        apiVersion: "networking.istio.io/v1",
        kind: "WorkloadEntry",
        metadata: { name: `${name}-1`, namespace: ns, labels: { "strait.io/cluster": "c1", "strait.io/node": `n${i % NODES}` } },
        spec: { address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, serviceAccount: name, labels: { app: name, version: "v1" } },
      },
      {
        apiVersion: "networking.istio.io/v1",
        kind: "VirtualService",
        metadata: { name, namespace: ns },
        spec: {
          hosts: i % 10 === 0 ? [name, `${name}.example.com`] : [name],
          gateways: i % 10 === 0 ? ["mesh", "ingress/edge"] : undefined,
          http: [
            { match: [{ uri: { prefix: "/v2" } }], route: [{ destination: { host: name, subset: "v2" } }], timeout: "2s" },
            { route: [{ destination: { host: name, subset: "v1" }, weight: 90 }, { destination: { host: name, subset: "v2" }, weight: 10 }] },
          ],
        },
      },
    );
  }
  return out;
}

interface CompileRow {
  services: number;
  compileMs: number;
  /** The direct path: serialising the same resources once (JSON.stringify), the floor of any compiler. */
  stringifyMs: number;
  gatewayBytes: number;
  nodeBytes: number;
  nodes: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

async function benchCompile(n: number): Promise<CompileRow> {
  const resources = syntheticConfig(n);
  const input = { resources, trustDomain: "strait.local", nodes: [] };
  compileSnapshots(input); // warm-up
  const times: number[] = [];
  let last = compileSnapshots(input);
  for (let i = 0; i < (n >= 10_000 ? 3 : 5); i++) {
    const t = performance.now();
    last = compileSnapshots(input);
    times.push(performance.now() - t);
  }
  const stringifyTimes: number[] = [];
  for (let i = 0; i < times.length; i++) {
    const t = performance.now();
    JSON.stringify(resources);
    stringifyTimes.push(performance.now() - t);
  }
  const node0 = last.nodes[0];
  return {
    services: n,
    compileMs: median(times),
    stringifyMs: median(stringifyTimes),
    gatewayBytes: new TextEncoder().encode(JSON.stringify(last.gateway)).byteLength,
    nodeBytes: node0 === undefined ? 0 : new TextEncoder().encode(JSON.stringify(node0)).byteLength,
    nodes: last.nodes.length,
  };
}

function toYaml(resources: AnyResource[]): string {
  // JSON is YAML; one document per resource.
  return resources.map((r) => JSON.stringify(r)).join("\n---\n");
}

interface E2eRow {
  services: number;
  applyMs: number;
  kvMs: number;
  longPollMs: number;
  /** The direct path: one KV put of a value the size of n0's snapshot until it is readable, no D1, compile or signing. */
  directKvMs: number;
}

async function benchEndToEnd(sizes: number[], rounds: number): Promise<E2eRow[]> {
  const ca = await createThrowawayCa();
  const w = await startControlWorker({ vars: ca.vars });
  const proxy = await getPlatformProxy({ configPath: join(projectRoot, "wrangler.toml"), environment: "control", envFiles: [".strait-tests-load-no-env-file"], persist: { path: join(w.persistDir, "v3") }, remoteBindings: false });
  const kv = (proxy.env as { CONFIG: KVNamespace }).CONFIG;
  const admin = { authorization: `Bearer ${ca.adminToken}`, "content-type": "application/yaml" };
  const rows: E2eRow[] = [];
  try {
    const jt = (await (await w.fetch("/v1/identity/join-tokens", { method: "POST", headers: { ...admin, "content-type": "application/json" }, body: JSON.stringify({ cluster: "c1", node: "n0" }) })).json()) as { token: string };
    const att = (await (await w.fetch("/v1/identity/attest", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ csr: await opensslCsr(), joinToken: jt.token }) })).json()) as { jwtSvid: { token: string } };
    const node = { authorization: `Bearer ${att.jwtSvid.token}` };
    let loaded = 0;
    for (const size of sizes) {
      const config = syntheticConfig(size);
      const fresh = config.slice(loaded === 0 ? 0 : 1 + loaded * 3);
      for (let i = 0; i < fresh.length; i += 150) {
        const body = toYaml(fresh.slice(i, i + 150));
        let r = await w.fetch("/v1/apply", { method: "POST", headers: admin, body });
        // Local workerd may restart under memory pressure mid-request; apply is idempotent, so retry once.
        if (r.status === 503) r = await w.fetch("/v1/apply", { method: "POST", headers: admin, body });
        if (r.status !== 200) throw new Error(`apply failed: ${r.status} ${await r.text()}`);
        await r.body?.cancel();
      }
      loaded = size;
      const applyMs: number[] = [];
      const kvMs: number[] = [];
      const pollMs: number[] = [];
      for (let round = 0; round < rounds; round++) {
        const cur = (await (await w.fetch("/v1/snapshots/nodes/c1/n0", { headers: node })).json()) as { version: number };
        let pollDone = 0;
        const waiting = w.fetch("/v1/snapshots/nodes/c1/n0?wait=30", { headers: { ...node, "if-none-match": `"${cur.version}"` } }).then(async (r) => {
          pollDone = performance.now();
          if (r.status !== 200) throw new Error(`long-poll answered ${r.status}`);
          await r.body?.cancel();
        });
        await new Promise((r) => setTimeout(r, 300)); // let the long-poll start waiting
        // A change node n0 needs: the port of one of its workloads.
        const we = config.find((r) => r.kind === "WorkloadEntry" && r.metadata.labels?.["strait.io/node"] === "n0")!;
        const changed = { ...we, spec: { ...we.spec, ports: { http: 8000 + round + size } } };
        const start = performance.now();
        const r = await w.fetch("/v1/apply", { method: "POST", headers: admin, body: toYaml([changed as AnyResource]) });
        if (r.status !== 200) throw new Error(`apply failed: ${r.status} ${await r.text()}`);
        await r.body?.cancel();
        const applied = performance.now();
        for (;;) {
          const v = await kv.get<{ version: number }>("snapshot:node:c1/n0", "json");
          if (v !== null && v.version > cur.version) break;
          await new Promise((res) => setTimeout(res, 5));
        }
        const inKv = performance.now();
        await waiting;
        applyMs.push(applied - start);
        kvMs.push(inKv - start);
        pollMs.push(pollDone - start);
      }
      const stored = await kv.get("snapshot:node:c1/n0", "text");
      const sameSize = "x".repeat(stored?.length ?? 0);
      const directMs: number[] = [];
      for (let round = 0; round < rounds; round++) {
        const value = `${round}${sameSize}`;
        const start = performance.now();
        await kv.put("bench:direct", value);
        while ((await kv.get("bench:direct", "text")) !== value) await new Promise((res) => setTimeout(res, 5));
        directMs.push(performance.now() - start);
      }
      rows.push({ services: size, applyMs: median(applyMs), kvMs: median(kvMs), longPollMs: median(pollMs), directKvMs: median(directMs) });
    }
  } finally {
    await proxy.dispose();
    await w.dispose();
  }
  return rows;
}

const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

/** Runs both parts and prints the tables; returns the rows. */
export async function benchControl(o: { compileSizes?: number[]; e2eSizes?: number[]; rounds?: number } = {}): Promise<{ compile: CompileRow[]; e2e: E2eRow[] }> {
  const compile: CompileRow[] = [];
  for (const n of o.compileSizes ?? [100, 1_000, 10_000]) compile.push(await benchCompile(n));
  console.log("\nSnapshot compile (pure, in-process; median)");
  console.table(compile.map((r) => ({ services: r.services, routes: r.services, "compile ms": fmt(r.compileMs), "JSON.stringify ms": fmt(r.stringifyMs), "compile / stringify": `${(r.compileMs / r.stringifyMs).toFixed(1)}x`, "gateway snapshot": kb(r.gatewayBytes), "node snapshot (n0)": kb(r.nodeBytes), nodes: r.nodes })));
  const e2e = await benchEndToEnd(o.e2eSizes ?? [100, 1_000], o.rounds ?? 5);
  console.log("\nApply -> snapshot in workerd (local D1 + KV; median)");
  console.table(e2e.map((r) => ({ services: r.services, "apply response ms": fmt(r.applyMs), "in KV ms": fmt(r.kvMs), "long-poll answered ms": fmt(r.longPollMs), "direct KV put ms": fmt(r.directKvMs), "in KV / direct": `${(r.kvMs / r.directKvMs).toFixed(1)}x` })));
  return { compile, e2e };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  await benchControl();
}
