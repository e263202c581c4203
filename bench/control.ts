/**
 * Control-plane benchmark.
 *
 * 1. Publish heap: one publish of 10,000 services and 100 nodes through the real publish run in a
 *    child `node --max-old-space-size=128` (a Worker isolate's limit); peak heap and time.
 * 2. Layout, in process: bytes a single-endpoint change writes (content-addressed blobs +
 *    manifests) against rewriting every whole snapshot (the previous layout, the direct path).
 * 3. End to end in real workerd (test/support/control-worker.ts), at 100 / 1,000 / 10,000 services:
 *    apply -> node n0's new manifest readable where the node reads it (`GET /v1/snapshots/nodes/
 *    c1/n0`, served by the publisher object), -> a waiting long-poll answered, and -> the manifest's
 *    copy in KV (`manifest:node:c1/n0`, made after every target of the run is live); next to a bare
 *    KV put of the same manifest (the direct path).
 * 4. 100 proxies long-polling their own node targets; one apply every proxy's view depends on ->
 *    time until each has the new version (p50/p99).
 * 5. Reads an idle proxy costs: the wait is held in the publisher object's memory (no D1 or KV
 *    read while waiting) and the node's standing (attested, not revoked) is checked there too;
 *    counted from the code path.
 *
 * Run: node --import tsx bench/control.ts   (STRAIT_BENCH_E2E_SIZES=100,1000,10000 to choose sizes)
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { getPlatformProxy } from "wrangler";
import { Pool } from "undici";
import { CompactSign, generateKeyPair } from "jose";
import type { AnyResource } from "../src/core/config/resource.ts";
import { compileSnapshots } from "../src/core/snapshot/compile-snapshots.ts";
import { runPublish, type PublishedHead } from "../src/control/publishing/publish-run.ts";
import { projectRoot, startControlWorker } from "../test/support/control-worker.ts";
import { createThrowawayCa, opensslCsr } from "../test/support/throwaway-ca.ts";
import { syntheticMesh, withEndpointPort } from "../test/core/snapshot/synthetic-mesh.ts";

const run = promisify(execFile);
const NODES = 10;

/** `n` services spread over 10 nodes (kept for callers of the earlier bench). */
export function syntheticConfig(n: number): AnyResource[] {
  return syntheticMesh(n, NODES);
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
}
const median = (xs: number[]) => quantile(xs, 0.5);
const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

interface HeapRow {
  services: number;
  nodes: number;
  ms: number;
  /** The single-endpoint change published after it, with the memo the first publish left. */
  changeMs: number;
  /** Heap still held after both (the publisher object keeps it between runs). */
  retainedHeap: number;
  peakHeap: number;
  bytes: number;
  failed: number;
}

/** Part 1: the publish run under a 128 MB heap, in a child process. */
async function benchHeap(services: number, nodes: number): Promise<HeapRow> {
  const { stdout } = await run(process.execPath, ["--max-old-space-size=128", "--expose-gc", "--import", "tsx", join(projectRoot, "bench/control-publish-heap.ts"), String(services), String(nodes)], {
    cwd: projectRoot,
    maxBuffer: 1 << 20,
  });
  const line = stdout.trim().split("\n").pop() ?? "{}";
  const r = JSON.parse(line) as HeapRow;
  return { services, nodes, ms: r.ms, changeMs: r.changeMs, retainedHeap: r.retainedHeap, peakHeap: r.peakHeap, bytes: r.bytes, failed: r.failed };
}

interface LayoutRow {
  services: number;
  nodes: number;
  changeBytes: number;
  changeBlobs: number;
  changeManifests: number;
  wholeBytes: number;
}

/** Part 2: bytes written by a single-endpoint change, against whole snapshots. */
async function benchLayout(services: number, nodes: number): Promise<LayoutRow> {
  const { privateKey } = await generateKeyPair("ES256");
  const storedBlobs = new Set<string>();
  const previous = new Map<string, { version: number; hash: string }>();
  let bytes = 0;
  let blobs = 0;
  let manifests = 0;
  const publish = (resources: AnyResource[], revision: number) =>
    runPublish({
      inputs: { resources, nodes: [], revocations: [], revision },
      trustDomain: "strait.local",
      rootNamespace: "strait-system",
      previous,
      storedBlobs,
      maxBlobBytes: 20 * 1024 * 1024,
      store: {
        async putBlob(_h, b) {
          bytes += b.byteLength;
          blobs++;
        },
        async putManifest(head: PublishedHead) {
          bytes += head.jws.length;
          manifests++;
          previous.set(head.target, { version: head.version, hash: head.hash });
        },
      },
      sign: (payload) => new CompactSign(payload).setProtectedHeader({ alg: "ES256", kid: "bench", typ: "strait-snapshot+jws" }).sign(privateKey),
    });
  const mesh = syntheticMesh(services, nodes);
  await publish(mesh, 1);
  bytes = 0;
  blobs = 0;
  manifests = 0;
  const changed = withEndpointPort(mesh, 3, 9003);
  await publish(changed, 2);
  const compiled = compileSnapshots({ resources: changed, trustDomain: "strait.local" });
  const wholeBytes = [compiled.gateway, ...compiled.nodes].reduce((n, s) => n + JSON.stringify(s).length, 0);
  return { services, nodes, changeBytes: bytes, changeBlobs: blobs, changeManifests: manifests, wholeBytes };
}

function toYaml(resources: readonly AnyResource[]): string {
  // JSON is YAML; one document per resource.
  return resources.map((r) => JSON.stringify(r)).join("\n---\n");
}

interface E2eRow {
  services: number;
  applyMs: number;
  /** Apply -> `GET /v1/snapshots/nodes/c1/n0` answers the new version. */
  readableMs: number;
  /** Apply -> the KV copy `manifest:node:c1/n0` has it. */
  manifestMs: number;
  longPollMs: number;
  directKvMs: number;
  changeKvBytes: number;
}

interface FanoutRow {
  proxies: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export async function benchEndToEnd(sizes: number[], rounds: number, proxies: number): Promise<{ e2e: E2eRow[]; fanout: FanoutRow }> {
  const ca = await createThrowawayCa();
  const w = await startControlWorker({ vars: { ...ca.vars, SNAPSHOT_LONGPOLL_MAX_SECONDS: "60", NAMESPACE_MAX_RESOURCES: "100000", NAMESPACE_MAX_BYTES: "1000000000" } });
  const proxy = await getPlatformProxy({ configPath: join(projectRoot, "wrangler.toml"), environment: "control", envFiles: [".strait-tests-load-no-env-file"], persist: { path: join(w.persistDir, "v3") }, remoteBindings: false });
  const kv = (proxy.env as { CONFIG: KVNamespace }).CONFIG;
  const admin = { authorization: `Bearer ${ca.adminToken}`, "content-type": "application/yaml" };
  const attest = async (node: string) => {
    const jt = (await (await w.fetch("/v1/identity/join-tokens", { method: "POST", headers: { ...admin, "content-type": "application/json" }, body: JSON.stringify({ cluster: "c1", node }) })).json()) as { token: string };
    const att = (await (await w.fetch("/v1/identity/attest", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ csr: await opensslCsr(), joinToken: jt.token }) })).json()) as { jwtSvid: { token: string } };
    return { authorization: `Bearer ${att.jwtSvid.token}` };
  };
  const status = async () => (await (await w.fetch("/v1/publish/status", { headers: admin })).json()) as { publisher: { lastRun: { bytesWritten: number } | null } };
  const rows: E2eRow[] = [];
  const poller = new Pool(w.url.origin, { connections: 1, pipelining: 1 });
  try {
    let node = await attest("n0");
    let loaded = 0;
    let config: AnyResource[] = [];
    for (const size of sizes) {
      config = syntheticMesh(size, NODES);
      const fresh = config.slice(loaded === 0 ? 0 : 1 + loaded * 3);
      for (let i = 0; i < fresh.length; i += 150) {
        const body = toYaml(fresh.slice(i, i + 150));
        let r = await w.fetch("/v1/apply", { method: "POST", headers: admin, body });
        // Local workerd may restart under memory pressure mid-request; apply is idempotent, so retry once.
        if (r.status === 503) r = await w.fetch("/v1/apply", { method: "POST", headers: admin, body });
        if (r.status !== 200) throw new Error(`apply failed: ${r.status} ${await r.text()}`);
        await r.body?.cancel();
      }
      // Let the publisher catch up with the load before measuring.
      const settle = await w.fetch("/v1/apply?wait=120", { method: "POST", headers: admin, body: toYaml(config.slice(0, 1)) });
      await settle.body?.cancel();
      loaded = size;
      // Loading a large config outlasts a JWT-SVID (5 minutes): the node attests again, as a proxy renews.
      node = await attest("n0");
      const applyMs: number[] = [];
      const readableMs: number[] = [];
      const manifestMs: number[] = [];
      const pollMs: number[] = [];
      const changeBytes: number[] = [];
      for (let round = 0; round < rounds; round++) {
        const cur = (await (await w.fetch("/v1/snapshots/nodes/c1/n0", { headers: node })).json()) as { version: number };
        let pollDone = 0;
        const waiting = w.fetch("/v1/snapshots/nodes/c1/n0?wait=60", { headers: { ...node, "if-none-match": `"${cur.version}"` } }).then(async (r) => {
          pollDone = performance.now();
          if (r.status !== 200) throw new Error(`long-poll answered ${r.status}: ${await r.text()}`);
          await r.body?.cancel();
        });
        await new Promise((r) => setTimeout(r, 300)); // let the long-poll start waiting
        // A change node n0 needs: the port of one of its workloads.
        const changed = withEndpointPort(config, 0, 8000 + round + size).find((r) => r.kind === "WorkloadEntry" && r.metadata.name === "svc0-1")!;
        const start = performance.now();
        const r = await w.fetch("/v1/apply", { method: "POST", headers: admin, body: toYaml([changed]) });
        if (r.status !== 200) throw new Error(`apply failed: ${r.status} ${await r.text()}`);
        await r.body?.cancel();
        const applied = performance.now();
        // The node's own read, polled over one kept-alive connection (the harness's fetch opens a
        // connection per request, which would add a TCP handshake to every poll).
        const readable = (async () => {
          for (;;) {
            try {
              const r = await poller.request({ path: "/v1/snapshots/nodes/c1/n0", method: "GET", headers: node });
              const v = (await r.body.json()) as { version: number };
              if (v.version > cur.version) return performance.now();
            } catch {
              // workerd may close an idle kept-alive connection; the next request opens another.
            }
            await new Promise((res) => setTimeout(res, 1));
          }
        })();
        const inKv = (async () => {
          for (;;) {
            const v = await kv.get<{ version: number }>("manifest:node:c1/n0", "json");
            if (v !== null && v.version > cur.version) return performance.now();
            await new Promise((res) => setTimeout(res, 2));
          }
        })();
        const [readableAt, inKvAt] = await Promise.all([readable, inKv]);
        await waiting;
        applyMs.push(applied - start);
        readableMs.push(readableAt - start);
        manifestMs.push(inKvAt - start);
        pollMs.push(pollDone - start);
        await new Promise((res) => setTimeout(res, 300)); // the run's status is recorded after the manifests
        changeBytes.push((await status()).publisher.lastRun?.bytesWritten ?? Number.NaN);
      }
      const stored = (await kv.get("manifest:node:c1/n0", "text")) ?? "";
      const directMs: number[] = [];
      for (let round = 0; round < rounds; round++) {
        const value = `${round}${stored}`;
        const start = performance.now();
        await kv.put("bench:direct", value);
        while ((await kv.get("bench:direct", "text")) !== value) await new Promise((res) => setTimeout(res, 2));
        directMs.push(performance.now() - start);
      }
      rows.push({ services: size, applyMs: median(applyMs), readableMs: median(readableMs), manifestMs: median(manifestMs), longPollMs: median(pollMs), directKvMs: median(directMs), changeKvBytes: median(changeBytes) });
    }

    // Part 4: `proxies` node proxies, each long-polling its own target.
    const small = syntheticMesh(100, NODES);
    const extra: AnyResource[] = [];
    const creds: Record<string, string>[] = [];
    for (let i = 0; i < proxies; i++) {
      creds.push(await attest(`p${i}`));
      extra.push({
        apiVersion: "networking.istio.io/v1",
        kind: "WorkloadEntry",
        metadata: { name: `p${i}-client`, namespace: "clients", labels: { "strait.io/cluster": "c1", "strait.io/node": `p${i}` } },
        spec: { address: `10.200.${i >> 8}.${i & 255}`, serviceAccount: "client", labels: { app: "client" } },
      } as AnyResource);
    }
    for (let i = 0; i < extra.length; i += 150) {
      const r = await w.fetch("/v1/apply?wait=120", { method: "POST", headers: admin, body: toYaml(extra.slice(i, i + 150)) });
      await r.body?.cancel();
    }
    const heads = await Promise.all(creds.map(async (c, i) => ((await (await w.fetch(`/v1/snapshots/nodes/c1/p${i}`, { headers: c })).json()) as { version: number }).version));
    const done: number[] = new Array(proxies).fill(0);
    const polls = creds.map((c, i) =>
      w.fetch(`/v1/snapshots/nodes/c1/p${i}?wait=60`, { headers: { ...c, "if-none-match": `"${heads[i]}"` } }).then(async (r) => {
        done[i] = performance.now();
        if (r.status !== 200) throw new Error(`proxy p${i}: ${r.status}`);
        await r.body?.cancel();
      }),
    );
    await new Promise((r) => setTimeout(r, 500));
    // svc3's endpoint: every proxy sees svc3 in its outbound view.
    const svc3 = withEndpointPort(small, 3, 7777).find((r) => r.kind === "WorkloadEntry" && r.metadata.name === "svc3-1")!;
    const start = performance.now();
    const r = await w.fetch("/v1/apply", { method: "POST", headers: admin, body: toYaml([svc3]) });
    await r.body?.cancel();
    await Promise.all(polls);
    const lat = done.map((d) => d - start);
    return { e2e: rows, fanout: { proxies, p50Ms: quantile(lat, 0.5), p99Ms: quantile(lat, 0.99), maxMs: Math.max(...lat) } };
  } finally {
    await poller.close();
    await proxy.dispose();
    await w.dispose();
  }
}

/** Runs every part and prints the tables; returns the rows. */
export async function benchControl(o: { e2eSizes?: number[]; rounds?: number; proxies?: number } = {}) {
  const heap = await benchHeap(10_000, 100);
  console.log("\nPublish under a 128 MB heap (node --max-old-space-size=128, real publish run, in-memory store): a first publish, then a single-endpoint change with the memo it left");
  console.table([
    {
      services: heap.services,
      nodes: heap.nodes,
      "peak heap": mib(heap.peakHeap),
      limit: "128 MiB",
      "peak / limit": `${((heap.peakHeap / (128 * 1024 * 1024)) * 100).toFixed(0)}%`,
      "held between runs": mib(heap.retainedHeap),
      "first publish ms": fmt(heap.ms),
      "change ms": fmt(heap.changeMs),
      "bytes written": mib(heap.bytes),
      "failed targets": heap.failed,
    },
  ]);

  const layout = [await benchLayout(1_000, 10), await benchLayout(10_000, 100)];
  console.log("\nKV bytes written by one single-endpoint change (content-addressed) vs rewriting every whole snapshot (direct path)");
  console.table(layout.map((r) => ({ services: r.services, nodes: r.nodes, "written": kib(r.changeBytes), blobs: r.changeBlobs, manifests: r.changeManifests, "whole snapshots": mib(r.wholeBytes), "written / whole": `${((r.changeBytes / r.wholeBytes) * 100).toFixed(2)}%` })));

  const envSizes = process.env.STRAIT_BENCH_E2E_SIZES?.split(",").map(Number).filter((n) => n > 0);
  const { e2e, fanout } = await benchEndToEnd(o.e2eSizes ?? envSizes ?? [100, 1_000, 10_000], o.rounds ?? 5, o.proxies ?? 100);
  console.log("\nApply -> node n0 in workerd (local D1 + KV; median of rounds)");
  console.table(
    e2e.map((r) => ({
      services: r.services,
      "apply answered ms": fmt(r.applyMs),
      "manifest readable ms": fmt(r.readableMs),
      "long-poll answered ms": fmt(r.longPollMs),
      "KV copy ms": fmt(r.manifestMs),
      "direct KV put ms": fmt(r.directKvMs),
      "KV copy / direct": `${(r.manifestMs / r.directKvMs).toFixed(1)}x`,
      "KV bytes per change": kib(r.changeKvBytes),
    })),
  );
  console.log("goals at 1,000 services: manifest readable < 150 ms, long-poll answered < 200 ms");
  console.log(`\n${fanout.proxies} proxies long-polling, one apply -> every proxy has the new version`);
  console.table([{ proxies: fanout.proxies, "p50 ms": fmt(fanout.p50Ms), "p99 ms": fmt(fanout.p99Ms), "max ms": fmt(fanout.maxMs) }]);
  console.log(
    "\nIdle proxy reads per minute (long-poll with ?wait=60: one request a minute): KV 0 and D1 0 — the wait is held in the publisher object's memory and the node's" +
      " standing (attested, not revoked) is checked from the publisher's memory too (src/control/auth.ts, config-publisher.ts nodeStanding); shared by all proxies:" +
      " the trust bundle per isolate every few seconds and the publisher's standing table at most every 5 minutes.",
  );
  return { heap, layout, e2e, fanout };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  await benchControl();
}
