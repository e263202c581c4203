/**
 * The one place data planes read published snapshots. The edge gateway (KV) and the node proxy
 * (control API over HTTP) each supply a `SnapshotSource`; this module verifies what the source
 * returns against the control plane's keys (the `jwt-svid` keys of the trust bundle) and yields a
 * whole, verified snapshot or nothing.
 *
 * Layout (snapshot-layout.ts, docs/control-plane.md): the head is `{ version, hash, revision, jws }`
 * where the compact JWS payload is a `SnapshotManifest` naming content-addressed blobs. The reader
 * verifies the signature, fetches only the blobs it does not hold yet, checks each against its
 * SHA-256, and assembles the same `GatewaySnapshot` / `NodeSnapshot` objects the compiler produced.
 */
import { compactVerify, decodeProtectedHeader } from "jose";
import { StraitError, type ErrorCategory } from "../errors.ts";
import type { Snapshot } from "./snapshot-model.ts";
import { MANIFEST_FORMAT, assembleSnapshot, blobHashes, layoutDigest, type SnapshotManifest } from "./snapshot-layout.ts";
import { SHA256_HEX, sha256Hex } from "./sha256.ts";

/** JWS `typ` of a signed snapshot manifest (must match the publisher's). */
export const SNAPSHOT_TYP = "strait-snapshot+jws";

/** What a source returns for a target: the signed head, as published. */
export interface SignedHead {
  version: number;
  jws: string;
  hash?: string;
  revision?: number;
}

export const NOT_MODIFIED = Symbol("not-modified");

export interface HeadOptions {
  /** Version the caller already has: a long-poll source may wait for a newer one. */
  knownVersion?: number;
  /** Longest wait, seconds, for a long-poll source. */
  waitSeconds?: number;
  signal?: AbortSignal;
}

/** Where published snapshots come from. */
export interface SnapshotSource {
  /** The target's current head, `null` when nothing is published, `NOT_MODIFIED` when a long-poll saw nothing newer. */
  head(target: string, options?: HeadOptions): Promise<SignedHead | null | typeof NOT_MODIFIED>;
  /** A content-addressed blob by its hash (`null` when absent). Required by the manifest layout. */
  blob?(hash: string): Promise<Uint8Array | null>;
}

/** Resolves a control-plane verification key (from the trust bundle) by `kid`. */
export type VerificationKeyLookup = (kid: string) => Promise<CryptoKey | undefined>;

export interface VerifiedSnapshot<S extends Snapshot = Snapshot> {
  target: string;
  version: number;
  revision: number;
  hash: string;
  snapshot: S;
  /** Blobs this read had to fetch (the others were already held), and their bytes. */
  fetched?: { blobs: number; bytes: number };
}

/** A snapshot that failed verification (or whose blobs are not all readable yet): never used; the last good one stays live. */
export class SnapshotVerificationError extends StraitError {
  readonly code: string = "ERR_SNAPSHOT_UNVERIFIED";
  readonly category: ErrorCategory = "unavailable";
}

export interface SnapshotReaderOptions<S extends Snapshot> {
  source: SnapshotSource;
  target: string;
  keys: VerificationKeyLookup;
  /** The snapshot type this consumer accepts (`gateway` or `node`). */
  type: S["type"];
  /** Blob fetches in flight at once (default 8). */
  concurrency?: number;
}

const decoder = new TextDecoder();

export class SnapshotReader<S extends Snapshot> {
  /** Decoded blobs of the last verified manifest, by hash: a new version fetches only what is not here. */
  private held = new Map<string, unknown>();

  constructor(private readonly o: SnapshotReaderOptions<S>) {}

  /**
   * Reads the target's head and, when it is newer than `current`, verifies and returns the whole
   * snapshot; `undefined` when nothing newer exists. Throws `SnapshotVerificationError` when what
   * was published does not verify (bad signature, unknown key, wrong target or type, a blob
   * missing or not matching its hash).
   */
  async poll(current?: Pick<VerifiedSnapshot<S>, "version">, options: Omit<HeadOptions, "knownVersion"> = {}): Promise<VerifiedSnapshot<S> | undefined> {
    const head = await this.o.source.head(this.o.target, { ...options, ...(current === undefined ? {} : { knownVersion: current.version }) });
    if (head === null || head === NOT_MODIFIED) return undefined;
    if (current !== undefined && head.version <= current.version) return undefined;
    return this.verify(head);
  }

  /** Verifies one signed head, fetches and checks the blobs it lacks, and returns the snapshot. */
  async verify(head: SignedHead): Promise<VerifiedSnapshot<S>> {
    const manifest = await this.verifiedManifest(head);
    const wanted = blobHashes(manifest);
    const next = new Map<string, unknown>();
    const missing: string[] = [];
    for (const h of wanted) {
      if (next.has(h)) continue;
      if (this.held.has(h)) next.set(h, this.held.get(h));
      else if (!missing.includes(h)) missing.push(h);
    }
    let bytes = 0;
    if (missing.length > 0) {
      const source = this.o.source;
      if (source.blob === undefined) throw new SnapshotVerificationError(`snapshot ${this.o.target}: the source cannot fetch blobs`);
      const fetchOne = async (hash: string) => {
        const body = await source.blob!(hash);
        if (body === null) throw new SnapshotVerificationError(`snapshot ${this.o.target}: blob ${hash} is not available (yet)`);
        if ((await sha256Hex(body)) !== hash) throw new SnapshotVerificationError(`snapshot ${this.o.target}: blob ${hash} does not match its hash`);
        let value: unknown;
        try {
          value = JSON.parse(decoder.decode(body));
        } catch (cause) {
          throw new SnapshotVerificationError(`snapshot ${this.o.target}: blob ${hash} is not JSON`, { cause });
        }
        bytes += body.byteLength;
        next.set(hash, value);
      };
      const queue = [...missing];
      const workers = Array.from({ length: Math.min(this.o.concurrency ?? 8, queue.length) }, async () => {
        for (let h = queue.shift(); h !== undefined; h = queue.shift()) await fetchOne(h);
      });
      await Promise.all(workers);
    }
    const base = next.get(manifest.base);
    if (base === null || typeof base !== "object" || Array.isArray(base)) throw new SnapshotVerificationError(`snapshot ${this.o.target}: base blob is not an object`);
    for (const hashes of Object.values(manifest.parts)) {
      for (const h of hashes) if (!Array.isArray(next.get(h))) throw new SnapshotVerificationError(`snapshot ${this.o.target}: blob ${h} is not an array chunk`);
    }
    const snapshot = assembleSnapshot(base as Record<string, unknown>, manifest.parts, (h) => next.get(h) as unknown[]);
    if (snapshot.type !== this.o.type) throw new SnapshotVerificationError(`snapshot ${this.o.target}: expected type ${this.o.type}`);
    this.held = next;
    return {
      target: manifest.target,
      version: manifest.version,
      revision: manifest.revision,
      hash: manifest.hash,
      snapshot: snapshot as S,
      fetched: { blobs: missing.length, bytes },
    };
  }

  private async verifiedManifest(head: SignedHead): Promise<SnapshotManifest> {
    let kid: string | undefined;
    let typ: string | undefined;
    try {
      const header = decodeProtectedHeader(head.jws);
      kid = typeof header.kid === "string" ? header.kid : undefined;
      typ = typeof header.typ === "string" ? header.typ : undefined;
    } catch (cause) {
      throw new SnapshotVerificationError(`snapshot ${this.o.target}: not a compact JWS`, { cause });
    }
    if (typ !== SNAPSHOT_TYP) throw new SnapshotVerificationError(`snapshot ${this.o.target}: JWS typ must be ${SNAPSHOT_TYP}, got ${String(typ)}`);
    if (kid === undefined) throw new SnapshotVerificationError(`snapshot ${this.o.target}: JWS has no kid`);
    const key = await this.o.keys(kid);
    if (key === undefined) throw new SnapshotVerificationError(`snapshot ${this.o.target}: signing key ${kid} is not in the trust bundle`);
    let payload: Uint8Array;
    try {
      ({ payload } = await compactVerify(head.jws, key, { algorithms: ["ES256"] }));
    } catch (cause) {
      throw new SnapshotVerificationError(`snapshot ${this.o.target}: signature does not verify`, { cause });
    }
    let m: SnapshotManifest;
    try {
      m = JSON.parse(decoder.decode(payload)) as SnapshotManifest;
    } catch (cause) {
      throw new SnapshotVerificationError(`snapshot ${this.o.target}: payload is not JSON`, { cause });
    }
    if (m === null || typeof m !== "object" || m.format !== MANIFEST_FORMAT) throw new SnapshotVerificationError(`snapshot ${this.o.target}: manifest format must be ${MANIFEST_FORMAT}`);
    if (m.target !== this.o.target) throw new SnapshotVerificationError(`snapshot: signed for target ${String(m.target)}, expected ${this.o.target}`);
    if (m.version !== head.version) throw new SnapshotVerificationError(`snapshot ${this.o.target}: signed version ${String(m.version)} differs from the head's ${head.version}`);
    if (m.type !== this.o.type) throw new SnapshotVerificationError(`snapshot ${this.o.target}: expected type ${this.o.type}`);
    const parts = m.parts as unknown;
    if (typeof m.base !== "string" || !SHA256_HEX.test(m.base) || parts === null || typeof parts !== "object" || Array.isArray(parts)) {
      throw new SnapshotVerificationError(`snapshot ${this.o.target}: manifest has no valid base and parts`);
    }
    for (const hashes of Object.values(parts as Record<string, unknown>)) {
      if (!Array.isArray(hashes) || !hashes.every((h) => typeof h === "string" && SHA256_HEX.test(h))) {
        throw new SnapshotVerificationError(`snapshot ${this.o.target}: manifest parts must be lists of SHA-256 hashes`);
      }
    }
    if ((await layoutDigest(m.base, m.parts)) !== m.hash) throw new SnapshotVerificationError(`snapshot ${this.o.target}: manifest hash does not match its parts`);
    return m;
  }
}
