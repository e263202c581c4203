/**
 * One publish: compiles the stored config into the gateway snapshot and one snapshot per node,
 * splits each into content-addressed blobs, writes the blobs not stored yet and, for every target
 * whose snapshot hash changed, signs and writes a new manifest (first where the publisher serves
 * it from, then, once every target is live, its copy where other readers look). Targets are independent: one
 * target's failure (a blob over the size limit, a KV error) is reported for that target and the
 * others still publish. All I/O goes through `PublishRunOptions`, so the same code runs in the
 * publisher Durable Object and, for the heap benchmark, in Node.
 *
 * Memory: targets are compiled, split and written one at a time; only the shared compile
 * context, each item's JSON text (once per publish) and the hashes stay alive.
 */
import type { AnyResource } from "../../core/config/resource.ts";
import { prepareContext } from "../../core/snapshot/compile-context.ts";
import type { CompileMemo } from "../../core/snapshot/compile-memo.ts";
import { compileGatewaySnapshot } from "../../core/snapshot/compile-gateway.ts";
import { compileNodeSnapshot } from "../../core/snapshot/compile-node.ts";
import { targetNodes } from "../../core/snapshot/compile-snapshots.ts";
import { snapshotTarget, type Revocation, type Snapshot } from "../../core/snapshot/snapshot-model.ts";
import { MANIFEST_FORMAT, SnapshotSplitter, blobHashes, type SnapshotManifest } from "../../core/snapshot/snapshot-layout.ts";

/** What KV's `manifest:<target>` holds, plus the blob list the publisher keeps for itself. */
export interface PublishedHead {
  target: string;
  version: number;
  revision: number;
  hash: string;
  jws: string;
  /** Every blob the manifest references. */
  blobs: string[];
}

export interface PublishInputs {
  resources: readonly AnyResource[];
  nodes: readonly { cluster: string; node: string }[];
  revocations: readonly Revocation[];
  /** Newest revision the resources reflect. */
  revision: number;
}

export interface PublishStore {
  putBlob(hash: string, bytes: Uint8Array): Promise<void>;
  /** Makes the head durable and live: from here on the target's readers may be given it. */
  putManifest(head: PublishedHead): Promise<void>;
  /**
   * Copies a live head where readers outside the publisher find it (KV `manifest:<target>`).
   * Runs after every target of the run is live, so copies never delay another target's head.
   */
  copyManifest?(head: PublishedHead): Promise<void>;
}

export interface TargetOutcome {
  target: string;
  state: "published" | "unchanged" | "failed";
  /** Version now live for the target (0 when it never published). */
  version: number;
  hash?: string;
  error?: string;
  blobsWritten: number;
  bytesWritten: number;
  manifestBytes: number;
}

export interface PublishRunOptions {
  inputs: PublishInputs;
  trustDomain: string;
  rootNamespace: string;
  /** Each target's live version and hash (the publisher is the only writer, so these are authoritative). */
  previous: ReadonlyMap<string, { version: number; hash: string }>;
  /** Blobs known to be in the store; hashes are added as they are written. */
  storedBlobs: Set<string>;
  store: PublishStore;
  /** Compact JWS over the manifest bytes. */
  sign(payload: Uint8Array): Promise<string>;
  maxBlobBytes: number;
  /**
   * Called as soon as a target's outcome is known: when published, the head is live (`putManifest`
   * done) but its copy (`copyManifest`) may not be made yet. A failed copy later turns the outcome
   * in the report to "failed" (the head stays live).
   */
  onTarget?(outcome: TargetOutcome, head: PublishedHead | undefined): void;
  /** Blob writes in flight at once per target (default 8). */
  concurrency?: number;
  /**
   * Targets compiled and written at once (default {@link DEFAULT_TARGET_CONCURRENCY}): bounds both
   * latency (KV writes wait in parallel) and memory. A run that compiles everything from scratch
   * should use {@link FULL_RUN_TARGET_CONCURRENCY}: each target then carries many new blobs.
   */
  targetConcurrency?: number;
  /**
   * Kept by a caller that publishes again and again (the publisher object): what the last compile
   * built, reused where its inputs are the same objects (compile-memo.ts).
   */
  memo?: CompileMemo;
  /** Likewise: a splitter living across runs keeps item texts and chunk hashes; it must check `storedBlobs`. */
  splitter?: SnapshotSplitter;
}

export interface PublishRunReport {
  revision: number;
  targets: TargetOutcome[];
}

const encoder = new TextEncoder();
/** Targets in flight at once. With a compile memo a target's own work is small next to its KV writes' latency. */
export const DEFAULT_TARGET_CONCURRENCY = 32;
/** Targets in flight at once when everything is compiled and written anew (fits a 128 MB isolate at 10,000 services, 100 nodes). */
export const FULL_RUN_TARGET_CONCURRENCY = 8;

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Writes the blobs not stored yet; a blob another target is writing right now is awaited, not written twice. */
async function writeAll(blobs: { hash: string; bytes: Uint8Array }[], o: PublishRunOptions, inflight: Map<string, Promise<void>>): Promise<{ bytes: number; count: number }> {
  let bytes = 0;
  let count = 0;
  const queue = [...blobs];
  const workers = Array.from({ length: Math.min(o.concurrency ?? 8, queue.length) }, async () => {
    for (let b = queue.shift(); b !== undefined; b = queue.shift()) {
      if (o.storedBlobs.has(b.hash)) continue;
      const pending = inflight.get(b.hash);
      if (pending !== undefined) {
        await pending;
        continue;
      }
      const write = o.store.putBlob(b.hash, b.bytes).then(() => {
        o.storedBlobs.add(b.hash);
      });
      inflight.set(b.hash, write);
      try {
        await write;
      } finally {
        inflight.delete(b.hash);
      }
      bytes += b.bytes.byteLength;
      count++;
    }
  });
  await Promise.all(workers);
  return { bytes, count };
}

/** The copies of the run's new heads, `targetConcurrency` at once; a failed copy fails its target. */
async function copyAll(heads: PublishedHead[], o: PublishRunOptions, outcomes: TargetOutcome[]): Promise<void> {
  const copy = o.store.copyManifest;
  if (copy === undefined || heads.length === 0) return;
  const byTarget = new Map(outcomes.map((t) => [t.target, t]));
  let next = 0;
  const workers = Array.from({ length: Math.min(o.targetConcurrency ?? DEFAULT_TARGET_CONCURRENCY, heads.length) }, async () => {
    for (let i = next++; i < heads.length; i = next++) {
      const head = heads[i]!;
      try {
        await copy.call(o.store, head);
      } catch (err) {
        const outcome = byTarget.get(head.target);
        if (outcome !== undefined) {
          outcome.state = "failed";
          outcome.error = `manifest copy: ${message(err)}`;
        }
      }
    }
  });
  await Promise.all(workers);
}

export async function runPublish(o: PublishRunOptions): Promise<PublishRunReport> {
  const { inputs } = o;
  const ctx = prepareContext({ resources: inputs.resources, nodes: inputs.nodes, revocations: inputs.revocations, trustDomain: o.trustDomain, rootNamespace: o.rootNamespace, ...(o.memo === undefined ? {} : { memo: o.memo }) });
  const splitter = o.splitter ?? new SnapshotSplitter({ maxBlobBytes: o.maxBlobBytes, isStored: (h) => o.storedBlobs.has(h) });
  splitter.newRun();
  const targets: { target: string; compile: () => Snapshot }[] = [
    { target: snapshotTarget(), compile: () => compileGatewaySnapshot(ctx) },
    ...targetNodes({ resources: inputs.resources, nodes: inputs.nodes, trustDomain: o.trustDomain }).map((n) => ({
      target: snapshotTarget(n),
      compile: () => compileNodeSnapshot(ctx, n),
    })),
  ];
  const report: PublishRunReport = { revision: inputs.revision, targets: [] };
  const outcomes = new Array<TargetOutcome>(targets.length);
  const inflight = new Map<string, Promise<void>>();
  const copies: PublishedHead[] = [];
  const publishOne = async (i: number) => {
    const { target, compile } = targets[i]!;
    const prev = o.previous.get(target);
    const outcome: TargetOutcome = { target, state: "unchanged", version: prev?.version ?? 0, blobsWritten: 0, bytesWritten: 0, manifestBytes: 0 };
    outcomes[i] = outcome;
    let head: PublishedHead | undefined;
    try {
      // A turn of the event loop before each target's compile: the caller (the publisher object)
      // keeps answering reads and long-polls during a run instead of after it (hashing resolves
      // through microtasks, so without this a run's compiles would be one long task).
      await yieldToEventLoop();
      const { layout, blobs } = await splitter.split(compile());
      outcome.hash = layout.hash;
      if (prev !== undefined && prev.version > 0 && prev.hash === layout.hash) {
        o.onTarget?.(outcome, undefined);
        return;
      }
      const written = await writeAll(blobs, o, inflight);
      outcome.bytesWritten = written.bytes;
      outcome.blobsWritten = written.count;
      const version = (prev?.version ?? 0) + 1;
      const manifest: SnapshotManifest = {
        format: MANIFEST_FORMAT,
        target,
        type: target === "gateway" ? "gateway" : "node",
        version,
        revision: inputs.revision,
        hash: layout.hash,
        base: layout.base,
        parts: layout.parts,
      };
      const jws = await o.sign(encoder.encode(JSON.stringify(manifest)));
      head = { target, version, revision: inputs.revision, hash: layout.hash, jws, blobs: [...new Set(blobHashes(layout))] };
      await o.store.putManifest(head);
      if (o.store.copyManifest !== undefined) copies.push(head);
      outcome.state = "published";
      outcome.version = version;
      outcome.manifestBytes = jws.length;
    } catch (err) {
      outcome.state = "failed";
      outcome.error = message(err);
      head = undefined;
    }
    o.onTarget?.(outcome, head);
  };
  let next = 0;
  const workers = Array.from({ length: Math.min(o.targetConcurrency ?? DEFAULT_TARGET_CONCURRENCY, targets.length) }, async () => {
    for (let i = next++; i < targets.length; i = next++) await publishOne(i);
  });
  try {
    await Promise.all(workers);
  } finally {
    splitter.endRun();
  }
  await copyAll(copies, o, outcomes);
  report.targets.push(...outcomes);
  return report;
}
