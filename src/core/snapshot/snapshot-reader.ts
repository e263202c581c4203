/**
 * The one place data planes read published snapshots. The edge gateway (KV) and the node proxy
 * (control API over HTTP) each supply a `SnapshotSource`; this module verifies what the source
 * returns against the control plane's keys (the `jwt-svid` keys of the trust bundle) and yields a
 * whole, verified snapshot or nothing. When the published layout changes (content-addressed
 * blobs + a signed manifest), only this module and the sources follow.
 *
 * Today's layout: the head is `{ version, hash, revision, jws }`, the compact JWS payload being the
 * JSON of a `SnapshotEnvelope` whose `hash` is the SHA-256 of the canonical snapshot.
 */
import { compactVerify, decodeProtectedHeader } from "jose";
import { StraitError, type ErrorCategory } from "../errors.ts";
import { contentHash } from "./content-hash.ts";
import type { Snapshot, SnapshotEnvelope } from "./snapshot-model.ts";

/** JWS `typ` of a signed snapshot (must match the publisher's). */
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
  /** A content-addressed blob by its hash (`null` when absent). Sources of the single-document layout may not implement it. */
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
}

/** A snapshot that failed verification: never used; the last good one stays live. */
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
}

export class SnapshotReader<S extends Snapshot> {
  constructor(private readonly o: SnapshotReaderOptions<S>) {}

  /**
   * Reads the target's head and, when it is newer than `current`, verifies and returns the whole
   * snapshot; `undefined` when nothing newer exists. Throws `SnapshotVerificationError` when what
   * was published does not verify (bad signature, unknown key, wrong target or type, hash mismatch).
   */
  async poll(current?: Pick<VerifiedSnapshot<S>, "version">, options: Omit<HeadOptions, "knownVersion"> = {}): Promise<VerifiedSnapshot<S> | undefined> {
    const head = await this.o.source.head(this.o.target, { ...options, ...(current === undefined ? {} : { knownVersion: current.version }) });
    if (head === null || head === NOT_MODIFIED) return undefined;
    if (current !== undefined && head.version <= current.version) return undefined;
    return this.verify(head);
  }

  /** Verifies one signed head and returns its snapshot. */
  async verify(head: SignedHead): Promise<VerifiedSnapshot<S>> {
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
    let envelope: SnapshotEnvelope;
    try {
      envelope = JSON.parse(new TextDecoder().decode(payload)) as SnapshotEnvelope;
    } catch (cause) {
      throw new SnapshotVerificationError(`snapshot ${this.o.target}: payload is not JSON`, { cause });
    }
    if (envelope.target !== this.o.target) throw new SnapshotVerificationError(`snapshot: signed for target ${String(envelope.target)}, expected ${this.o.target}`);
    if (envelope.version !== head.version) throw new SnapshotVerificationError(`snapshot ${this.o.target}: signed version ${String(envelope.version)} differs from the head's ${head.version}`);
    if (envelope.snapshot?.type !== this.o.type) throw new SnapshotVerificationError(`snapshot ${this.o.target}: expected type ${this.o.type}`);
    if ((await contentHash(envelope.snapshot)) !== envelope.hash) throw new SnapshotVerificationError(`snapshot ${this.o.target}: content hash mismatch`);
    return { target: envelope.target, version: envelope.version, revision: envelope.revision, hash: envelope.hash, snapshot: envelope.snapshot as S };
  }
}
