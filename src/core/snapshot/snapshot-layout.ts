/**
 * The published layout of a snapshot: content-addressed blobs plus one small signed manifest per
 * target (docs/control-plane.md, "Snapshot format").
 *
 * - Every array field of a snapshot (`outbound`, `routes`, `services`, `workloads`, ...) is cut
 *   into chunks at content-defined boundaries: an item ends a chunk when the FNV-1a hash of its
 *   JSON text has its low bits zero (about one item in {@link AVERAGE_CHUNK_ITEMS}), or when the
 *   chunk reaches {@link MAX_CHUNK_ITEMS} items or {@link SOFT_CHUNK_BYTES} bytes. A chunk's blob
 *   is the JSON array of its items; its name is the SHA-256 of exactly those bytes. Boundaries
 *   depend only on the items, so a change rewrites the chunk it falls in (rarely a neighbour),
 *   and equal runs of items give the same blob on every target: the mesh-wide registry is
 *   stored once for the gateway and every node that sees it, per-node parts (workloads,
 *   inbound, policies) separately.
 * - The non-array fields (`type`, `trustDomain`, `node`) form the `base` blob.
 * - The manifest names the base and, per field in order, its chunk hashes; its `hash` is the
 *   SHA-256 of `JSON.stringify({base, parts})`, so two equal snapshots have the same hash.
 *
 * Serialisation happens once: each item's JSON text is produced once per publish (cached by
 * object identity, so a service shared by 100 node views is stringified once), the blob bytes
 * are those texts joined, and the hash covers exactly the stored bytes.
 */
import { StraitError, type ErrorCategory } from "../errors.ts";
import type { Snapshot } from "./snapshot-model.ts";
import { sha256Hex } from "./sha256.ts";

/** `format` of a manifest this module writes and reads. */
export const MANIFEST_FORMAT = "strait-snapshot-manifest/1";

/** About one item in this many ends a chunk (a power of two). */
export const AVERAGE_CHUNK_ITEMS = 32;
/** A chunk never holds more items than this. */
export const MAX_CHUNK_ITEMS = 256;
/** Arrays at least this long are remembered by identity for the run (shared views are long). */
const SHARED_ARRAY_MIN_ITEMS = 32;
/** A chunk is closed once its JSON reaches this many bytes (UTF-16 units, close enough). */
export const SOFT_CHUNK_BYTES = 256 * 1024;

/** The signed part of a published snapshot: the JWS payload is exactly `JSON.stringify` of this. */
export interface SnapshotManifest {
  format: typeof MANIFEST_FORMAT;
  target: string;
  type: Snapshot["type"];
  version: number;
  /** Config revision the snapshot was compiled from. */
  revision: number;
  /** SHA-256 of `JSON.stringify({base, parts})`: the snapshot's identity. */
  hash: string;
  /** Blob of the non-array fields. */
  base: string;
  /** Per array field, in the snapshot's field order, the hashes of its chunks in order. */
  parts: Record<string, string[]>;
}

/** The blob-level shape of one snapshot, before it gets a version. */
export interface SnapshotLayout {
  hash: string;
  base: string;
  parts: Record<string, string[]>;
}

/** A blob to store: its name and exact bytes. */
export interface SnapshotBlob {
  hash: string;
  bytes: Uint8Array;
}

/** One item (or one base) serialises to more bytes than a blob may hold. */
export class BlobTooLargeError extends StraitError {
  readonly code: string = "ERR_BLOB_TOO_LARGE";
  readonly category: ErrorCategory = "too_large";
}

/** Every blob hash a manifest or layout references (base first). */
export function blobHashes(m: Pick<SnapshotLayout, "base" | "parts">): string[] {
  const out = [m.base];
  for (const hashes of Object.values(m.parts)) out.push(...hashes);
  return out;
}

/** The snapshot identity of a layout: SHA-256 of `JSON.stringify({base, parts})`. */
export function layoutDigest(base: string, parts: Record<string, string[]>): Promise<string> {
  return sha256Hex(JSON.stringify({ base, parts }));
}

/** 32-bit FNV-1a over UTF-16 code units: cheap, stable boundary decisions. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** What the splitter remembers of an item between runs: no text, which is rebuilt when a chunk needs it. */
interface ItemInfo {
  /** 0 for a scalar (no identity: its text is the key). */
  id: number;
  /** JSON length, UTF-16 units. */
  length: number;
  /** The item ends a chunk. */
  boundary: boolean;
}

interface Piece {
  item: unknown;
  info: ItemInfo;
}

const encoder = new TextEncoder();

export interface SnapshotSplitterOptions {
  /** Largest blob, bytes (KV allows 25 MiB per value). */
  maxBlobBytes: number;
  /** True when a blob is already stored: its bytes are then not built again. */
  isStored?: (hash: string) => boolean;
}

/**
 * Splits snapshots into blobs. It remembers each item's chunk boundary and length by object
 * identity and each chunk's hash by the identities of its items, so the parts shared by many
 * targets are serialised and hashed once. A splitter may live across publishes (the publisher
 * keeps one, with a compile memo that hands back the same objects for unchanged parts): call
 * {@link newRun} at the start of each and {@link endRun} after it. JSON texts are kept only during
 * a run; chunk hashes no run used any more are forgotten. Items must not be mutated after they
 * were split.
 */
export class SnapshotSplitter {
  private readonly items = new WeakMap<object, ItemInfo>();
  /** JSON texts made during this run (a chunk that is rebuilt needs its items' texts). */
  private texts = new Map<unknown, string>();
  /** Chunk hashes of array objects split in this run, and their blobs not yet stored. */
  private arrays = new WeakMap<readonly unknown[], { hashes: string[]; pending: SnapshotBlob[] }>();
  /** Chunk hashes by item identities: those of the previous run, and those this run used. */
  private previousChunks = new Map<string, string>();
  private chunkHashes = new Map<string, string>();
  private nextId = 1;

  constructor(private readonly o: SnapshotSplitterOptions) {}

  /** Starts a publish: chunk hashes the previous publish did not use are dropped. */
  newRun(): void {
    this.previousChunks = this.chunkHashes;
    this.chunkHashes = new Map();
    this.texts = new Map();
    this.arrays = new WeakMap();
  }

  /** Ends a publish: the run's JSON texts are released. */
  endRun(): void {
    this.texts = new Map();
    this.arrays = new WeakMap();
  }

  /** The layout of `snapshot` and the blobs it needs that are not stored yet (by `isStored`). */
  async split(snapshot: Snapshot): Promise<{ layout: SnapshotLayout; blobs: SnapshotBlob[] }> {
    const blobs: SnapshotBlob[] = [];
    const seen = new Set<string>();
    const base: Record<string, unknown> = {};
    const parts: Record<string, string[]> = {};
    for (const [field, value] of Object.entries(snapshot)) {
      if (!Array.isArray(value)) {
        base[field] = value;
        continue;
      }
      const shared = this.arrays.get(value);
      if (shared !== undefined) {
        // The same array object in another target of this run (nodes that see alike share their
        // outbound view): its chunks are known; hand on the blobs not stored yet, so this target
        // also waits for them before its manifest goes live.
        if (shared.pending.length > 0) shared.pending = shared.pending.filter((b) => !this.stored(b.hash));
        for (const b of shared.pending) {
          if (seen.has(b.hash)) continue;
          seen.add(b.hash);
          blobs.push(b);
        }
        parts[field] = shared.hashes;
        continue;
      }
      const hashes: string[] = [];
      for (const chunk of this.chunks(value)) hashes.push(await this.chunkBlob(chunk, field, blobs, seen));
      parts[field] = hashes;
      if (value.length >= SHARED_ARRAY_MIN_ITEMS) {
        const built = new Map(blobs.map((b) => [b.hash, b]));
        const pending = hashes.filter((h) => !this.stored(h)).flatMap((h) => built.get(h) ?? []);
        this.arrays.set(value, { hashes, pending });
      }
    }
    const baseBytes = encoder.encode(JSON.stringify(base));
    if (baseBytes.byteLength > this.o.maxBlobBytes) throw new BlobTooLargeError(`snapshot base is ${baseBytes.byteLength} bytes, over the blob limit of ${this.o.maxBlobBytes}`);
    const baseHash = await sha256Hex(baseBytes);
    if (!this.stored(baseHash) && !seen.has(baseHash)) blobs.push({ hash: baseHash, bytes: baseBytes });
    return { layout: { hash: await layoutDigest(baseHash, parts), base: baseHash, parts }, blobs };
  }

  private stored(hash: string): boolean {
    return this.o.isStored?.(hash) ?? false;
  }

  private infoOf(item: unknown): ItemInfo {
    if (item === null || typeof item !== "object") {
      const text = JSON.stringify(item) ?? "null";
      return { id: 0, length: text.length, boundary: (fnv1a(text) & (AVERAGE_CHUNK_ITEMS - 1)) === 0 };
    }
    let info = this.items.get(item);
    if (info === undefined) {
      const text = JSON.stringify(item);
      info = { id: this.nextId++, length: text.length, boundary: (fnv1a(text) & (AVERAGE_CHUNK_ITEMS - 1)) === 0 };
      this.items.set(item, info);
      this.texts.set(item, text);
    }
    return info;
  }

  private textOf(item: unknown): string {
    let text = this.texts.get(item);
    if (text === undefined) {
      text = JSON.stringify(item) ?? "null";
      this.texts.set(item, text);
    }
    return text;
  }

  /** Content-defined chunks of `items`. */
  private *chunks(items: readonly unknown[]): Generator<Piece[]> {
    let chunk: Piece[] = [];
    let bytes = 0;
    // Bytes are counted in UTF-16 units; 1/4 headroom keeps multi-byte text under the hard limit.
    const soft = Math.min(SOFT_CHUNK_BYTES, Math.floor(this.o.maxBlobBytes / 4));
    for (const item of items) {
      const info = this.infoOf(item);
      // Never let a chunk grow past the limit because of the item being added: only an item that is
      // too large on its own makes a blob too large.
      if (chunk.length > 0 && bytes + info.length + 1 > soft) {
        yield chunk;
        chunk = [];
        bytes = 0;
      }
      chunk.push({ item, info });
      bytes += info.length + 1;
      if (info.boundary || chunk.length >= MAX_CHUNK_ITEMS || bytes >= soft) {
        yield chunk;
        chunk = [];
        bytes = 0;
      }
    }
    if (chunk.length > 0) yield chunk;
  }

  private async chunkBlob(chunk: Piece[], field: string, out: SnapshotBlob[], seen: Set<string>): Promise<string> {
    // Items without identity (scalars) make the key content-based, which is still exact.
    let key = "";
    for (let i = 0; i < chunk.length; i++) {
      const p = chunk[i]!;
      key += (i === 0 ? "" : ",") + (p.info.id === 0 ? `#${JSON.stringify(p.item) ?? "null"}` : String(p.info.id));
    }
    let cached = this.chunkHashes.get(key);
    if (cached === undefined) {
      cached = this.previousChunks.get(key);
      if (cached !== undefined) this.chunkHashes.set(key, cached);
    }
    if (cached !== undefined && (this.stored(cached) || seen.has(cached))) return cached;
    let text = "[";
    for (let i = 0; i < chunk.length; i++) text += (i === 0 ? "" : ",") + this.textOf(chunk[i]!.item);
    text += "]";
    const bytes = encoder.encode(text);
    if (bytes.byteLength > this.o.maxBlobBytes) {
      throw new BlobTooLargeError(`${field}: an item serialises to ${bytes.byteLength} bytes, over the blob limit of ${this.o.maxBlobBytes}`, { field });
    }
    const hash = await sha256Hex(bytes);
    this.chunkHashes.set(key, hash);
    if (!this.stored(hash) && !seen.has(hash)) {
      seen.add(hash);
      out.push({ hash, bytes });
    }
    return hash;
  }
}

/**
 * Rebuilds the snapshot a layout describes from its decoded blobs: the base object with every
 * array field the concatenation of its chunks. Blobs must already be verified.
 */
export function assembleSnapshot(base: Record<string, unknown>, parts: Record<string, string[]>, chunk: (hash: string) => unknown[]): Snapshot {
  const out: Record<string, unknown> = { ...base };
  for (const [field, hashes] of Object.entries(parts)) {
    const items: unknown[] = [];
    for (const h of hashes) {
      const c = chunk(h);
      for (let i = 0; i < c.length; i++) items.push(c[i]);
    }
    out[field] = items;
  }
  return out as unknown as Snapshot;
}
