/**
 * Publishing `services` services and `nodes` nodes through the real publish run (compile, split
 * into blobs, sign, write) as the publisher object does it: a first publish of everything, then
 * one single-endpoint change published with the compile memo and splitter the first publish left
 * behind (what the object keeps in memory between runs). The store is in memory and keeps only
 * hashes and byte counts. Meant to run under a heap limit (`node --max-old-space-size=128`): it
 * prints one JSON line with the peak heap over both (sampled after every target and every 200
 * blob writes), the heap still held after them, the times and the bytes written.
 *
 * Run: node --max-old-space-size=128 --import tsx bench/control-publish-heap.ts 10000 100
 */
import { CompactSign, generateKeyPair } from "jose";
import { DEFAULT_TARGET_CONCURRENCY, FULL_RUN_TARGET_CONCURRENCY, runPublish } from "../src/control/publishing/publish-run.ts";
import { syntheticMesh, withEndpointPort } from "../test/core/snapshot/synthetic-mesh.ts";
import { CompileMemo } from "../src/core/snapshot/compile-memo.ts";
import { SnapshotSplitter } from "../src/core/snapshot/snapshot-layout.ts";
import { DEFAULT_DOMAIN_SUFFIX } from "../src/core/config/hosts.ts";
import type { AnyResource } from "../src/core/config/resource.ts";

const services = Number(process.argv[2] ?? 10_000);
const nodes = Number(process.argv[3] ?? 100);
let peak = 0;
const sample = () => {
  const used = process.memoryUsage().heapUsed;
  if (used > peak) peak = used;
};
const { privateKey } = await generateKeyPair("ES256");
const resources = syntheticMesh(services, nodes);
globalThis.gc?.();
sample();
const base = process.memoryUsage().heapUsed;
let blobs = 0;
let bytes = 0;
let manifests = 0;
const storedBlobs = new Set<string>();
const previous = new Map<string, { version: number; hash: string }>();
// What the publisher object keeps between runs.
const memo = new CompileMemo({ trustDomain: "strait.local", rootNamespace: "strait-system", domainSuffix: DEFAULT_DOMAIN_SUFFIX });
const splitter = new SnapshotSplitter({ maxBlobBytes: 20 * 1024 * 1024, isStored: (h) => storedBlobs.has(h) });
const publish = (config: readonly AnyResource[], revision: number) =>
  runPublish({
    inputs: { resources: config, nodes: [], revocations: [], revision },
    trustDomain: "strait.local",
    rootNamespace: "strait-system",
    previous,
    storedBlobs,
    maxBlobBytes: 20 * 1024 * 1024,
    memo,
    splitter,
    // As the publisher object runs them: a full run with fewer targets at once than a change.
    targetConcurrency: revision === 1 ? FULL_RUN_TARGET_CONCURRENCY : DEFAULT_TARGET_CONCURRENCY,
    store: {
      async putBlob(_hash, b) {
        blobs++;
        bytes += b.byteLength;
        if (blobs % 200 === 0) sample();
      },
      async putManifest(head) {
        manifests++;
        bytes += head.jws.length;
        previous.set(head.target, { version: head.version, hash: head.hash });
      },
    },
    sign: (payload) => new CompactSign(payload).setProtectedHeader({ alg: "ES256", kid: "bench", typ: "strait-snapshot+jws" }).sign(privateKey),
    onTarget: () => sample(),
  });
const started = performance.now();
const report = await publish(resources, 1);
const ms = performance.now() - started;
const firstBytes = bytes;
const changed = withEndpointPort(resources, 3, 9003);
const changeStarted = performance.now();
const second = await publish(changed, 2);
const changeMs = performance.now() - changeStarted;
sample();
globalThis.gc?.();
const retained = process.memoryUsage().heapUsed;
const failed = [...report.targets, ...second.targets].filter((t) => t.state === "failed");
console.log(
  JSON.stringify({ services, nodes, targets: report.targets.length, failed: failed.length, ms, changeMs, peakHeap: peak, retainedHeap: retained, inputHeap: base, blobs, manifests, bytes: firstBytes, changeBytes: bytes - firstBytes }),
);
