/**
 * ConfigWatcher: keeps the ConfigState fed. At start it restores the last-known-good
 * snapshot from the state directory (re-verified against the bundle kept there), so a
 * restart during a control-plane outage serves the old config at once. Then it
 * long-polls the control plane; each newer snapshot is verified (core SnapshotReader,
 * the bundle's jwt-svid keys), prepared and swapped whole, persisted atomically, and
 * its version reported (`POST /v1/proxies/status`).
 *
 * Failures never drop the live config: an unreachable control plane is retried with
 * capped backoff; a snapshot that fails verification is retried with backoff (its claimed
 * version is not trusted), one the data plane refuses is skipped (its signed version is not
 * asked for again); either way the last good one stays.
 */
import { importJWK, type JWK } from "jose";
import type { Clock } from "../../core/clock.ts";
import { SnapshotReader, SnapshotVerificationError, type SignedHead, type SnapshotSource, type VerificationKeyLookup } from "../../core/snapshot/snapshot-reader.ts";
import type { NodeSnapshot } from "../../core/snapshot/snapshot-model.ts";
import type { ProxyLogger, TrustBundleView } from "../context.ts";
import type { ControlApi } from "../identity/control-api.ts";
import { backoffDelay, type BackoffPolicy } from "../identity/renewal-schedule.ts";
import { ConfigRejectedError, type ConfigStateStore } from "./config-state.ts";
import { HttpSnapshotSource } from "./snapshot-source-http.ts";
import type { StateStore } from "./state-store.ts";

export interface ConfigWatcherOptions {
  api: ControlApi;
  node: { cluster: string; node: string };
  state: ConfigStateStore;
  store: StateStore;
  /** The current bundle (its jwt-svid keys verify snapshots). */
  bundle: () => TrustBundleView;
  clock: Clock;
  logger: ProxyLogger;
  longPollSeconds: number;
  random?: () => number;
  backoff?: BackoffPolicy;
}

/** What /config_dump shows about the watcher. */
export interface WatcherStatus {
  connected: boolean;
  lastError?: string;
  lastErrorAt?: string;
  failures: number;
  reportedVersion?: number;
  /** A signed version the data plane refused (never asked for again). */
  skippedVersion?: number;
  /** The version an unverifiable head claimed (informational: it is not trusted). */
  unverifiedVersion?: number;
}

function isHead(v: unknown): v is SignedHead {
  if (typeof v !== "object" || v === null) return false;
  const o = v as Record<string, unknown>;
  return typeof o.version === "number" && typeof o.jws === "string";
}

/**
 * What snapshot.json holds: the signed head exactly as published and the content-addressed
 * blobs its manifest names (base64). Nothing in it is trusted: a restore verifies it again.
 */
interface PersistedSnapshot {
  head: SignedHead;
  blobs: Record<string, string>;
}

function isPersisted(v: unknown): v is PersistedSnapshot {
  if (typeof v !== "object" || v === null) return false;
  const o = v as Record<string, unknown>;
  return isHead(o.head) && typeof o.blobs === "object" && o.blobs !== null;
}

/** Every SHA-256 string in the (already verified) JWS payload: the blobs the manifest names, whatever its shape. */
function referencedHashes(jws: string): Set<string> {
  const out = new Set<string>();
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(jws.split(".")[1] ?? "", "base64url").toString("utf8"));
  } catch {
    return out;
  }
  const walk = (v: unknown): void => {
    if (typeof v === "string" && /^[0-9a-f]{64}$/.test(v)) out.add(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === "object" && v !== null) Object.values(v).forEach(walk);
  };
  walk(payload);
  return out;
}

/** Remembers the last head and the blobs the source returned, so the signed form can be persisted. */
class RecordingSource extends HttpSnapshotSource {
  last: SignedHead | undefined;
  readonly blobs = new Map<string, Uint8Array>();
  override async head(...args: Parameters<HttpSnapshotSource["head"]>): ReturnType<HttpSnapshotSource["head"]> {
    const h = await super.head(...args);
    if (h !== null && typeof h === "object") this.last = h;
    return h;
  }
  override async blob(hash: string): Promise<Uint8Array | null> {
    const b = await super.blob(hash);
    if (b !== null) this.blobs.set(hash, b);
    return b;
  }
}

/** The state directory as a snapshot source, for the restore (same verification as the network). */
class PersistedSource implements SnapshotSource {
  constructor(private readonly p: PersistedSnapshot) {}
  async head(): Promise<SignedHead> {
    return this.p.head;
  }
  async blob(hash: string): Promise<Uint8Array | null> {
    const b = Object.hasOwn(this.p.blobs, hash) ? this.p.blobs[hash] : undefined;
    return typeof b === "string" ? new Uint8Array(Buffer.from(b, "base64")) : null;
  }
}

export class ConfigWatcher {
  private readonly source: RecordingSource;
  private readonly reader: SnapshotReader<NodeSnapshot>;
  private readonly abort = new AbortController();
  private readonly keyCache = new Map<string, Promise<CryptoKey | undefined>>();
  private loop: Promise<void> | undefined;
  private skipped: number | undefined;
  private refused: number | undefined;
  private reported: number | undefined;
  private failures = 0;
  private lastError: { message: string; at: number } | undefined;
  private connected = false;
  private wake: (() => void) | undefined;

  constructor(private readonly o: ConfigWatcherOptions) {
    this.source = new RecordingSource(o.api, o.node);
    this.reader = new SnapshotReader<NodeSnapshot>({ source: this.source, target: this.source.target, keys: this.keys, type: "node" });
  }

  /** jwt-svid keys of the current bundle by kid (imported once per kid and key). */
  private readonly keys: VerificationKeyLookup = (kid) => {
    const jwk = this.o.bundle().jwtAuthorities.get(kid);
    if (jwk === undefined) return Promise.resolve(undefined);
    const cacheKey = `${kid}:${JSON.stringify(jwk)}`;
    let key = this.keyCache.get(cacheKey);
    if (key === undefined) {
      key = importJWK(jwk as JWK, "ES256").then(
        (k) => k as CryptoKey,
        () => undefined,
      );
      this.keyCache.set(cacheKey, key);
    }
    return key;
  };

  /** Restores the last-known-good snapshot from disk, if there is one that still verifies. */
  async restore(): Promise<boolean> {
    const persisted = await this.o.store.read("snapshot.json");
    if (!isPersisted(persisted)) return false;
    try {
      const reader = new SnapshotReader<NodeSnapshot>({ source: new PersistedSource(persisted), target: this.source.target, keys: this.keys, type: "node" });
      const verified = await reader.verify(persisted.head);
      await this.o.state.swap(verified, "disk");
      for (const [hash, b64] of Object.entries(persisted.blobs)) this.source.blobs.set(hash, new Uint8Array(Buffer.from(b64, "base64")));
      this.o.logger.info("config restored from the state directory", { version: verified.version });
      return true;
    } catch (err) {
      this.o.logger.warn("last-known-good snapshot on disk is unusable", { error: err instanceof Error ? err.message : String(err) });
      return false;
    }
  }

  /** Starts the long-poll loop. */
  start(): void {
    this.loop ??= this.run();
  }

  /** Polls once now (without waiting for a change); used at startup to get the first config. */
  async pollOnce(): Promise<boolean> {
    return this.step(0);
  }

  private async run(): Promise<void> {
    while (!this.abort.signal.aborted) {
      const ok = await this.step(this.o.longPollSeconds);
      if (this.abort.signal.aborted) return;
      if (!ok) await this.sleep(backoffDelay(this.failures, this.o.random ?? Math.random, this.o.backoff));
    }
  }

  /** One poll. False when it failed (the caller backs off). */
  private async step(waitSeconds: number): Promise<boolean> {
    const current = this.o.state.current();
    const known = Math.max(current?.version ?? -1, this.skipped ?? -1);
    try {
      await this.report();
      const verified = await this.reader.poll(known < 0 ? undefined : { version: known }, { waitSeconds, signal: this.abort.signal });
      this.connected = true;
      if (verified !== undefined) {
        await this.o.state.swap(verified, "control");
        await this.persist(verified.version);
        this.o.logger.info("config applied", { version: verified.version, hash: verified.hash });
        await this.report();
      }
      this.failures = 0;
      return true;
    } catch (err) {
      if (this.abort.signal.aborted) return false;
      const message = err instanceof Error ? err.message : String(err);
      this.lastError = { message, at: this.o.clock.now() };
      if (err instanceof ConfigRejectedError) {
        // A signed version the data plane cannot use: never ask for it again; the last good config stays live.
        this.skipped = this.source.last?.version ?? this.skipped;
        this.o.logger.error("snapshot refused by the data plane; keeping the last good config", { error: message, version: this.skipped });
        this.failures += 1;
        return false;
      }
      if (err instanceof SnapshotVerificationError) {
        // Nothing of an unverified head is trusted, not even its version number (a forged huge version
        // must not stop later real ones): keep the last good config and retry with backoff.
        this.refused = this.source.last?.version;
        this.o.logger.error("snapshot failed verification; keeping the last good config", { error: message, version: this.refused });
        this.failures += 1;
        return false;
      }
      this.connected = false;
      this.failures += 1;
      if (this.failures === 1 || this.failures % 10 === 0) this.o.logger.warn("control plane unreachable; serving the last good config", { error: message, failures: this.failures });
      return false;
    }
  }

  /** Writes the live snapshot's signed head and its blobs (and forgets blobs no longer named). */
  private async persist(version: number): Promise<void> {
    const head = this.source.last;
    if (head === undefined || head.version !== version) return;
    const referenced = referencedHashes(head.jws);
    const blobs: Record<string, string> = {};
    for (const [hash, bytes] of this.source.blobs) {
      if (referenced.has(hash)) blobs[hash] = Buffer.from(bytes).toString("base64");
      else this.source.blobs.delete(hash);
    }
    const doc: PersistedSnapshot = { head, blobs };
    try {
      await this.o.store.write("snapshot.json", doc);
    } catch (err) {
      this.o.logger.error("cannot persist the snapshot to the state directory", { error: err instanceof Error ? err.message : String(err) });
    }
  }

  /** Reports the live version once per version; a failed report is retried on the next poll and never blocks polling. */
  private async report(): Promise<void> {
    const v = this.o.state.current();
    if (v === undefined || v.version === this.reported) return;
    try {
      await this.o.api.reportStatus(v.version, v.hash);
      this.reported = v.version;
    } catch (err) {
      this.o.logger.warn("could not report the applied config version", { version: v.version, error: err instanceof Error ? err.message : String(err) });
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      t.unref();
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
      this.abort.signal.addEventListener("abort", done, { once: true });
    });
  }

  /** Ends the backoff early (e.g. after the node identity was renewed). */
  nudge(): void {
    this.wake?.();
  }

  status(): WatcherStatus {
    return {
      connected: this.connected,
      failures: this.failures,
      ...(this.lastError === undefined ? {} : { lastError: this.lastError.message, lastErrorAt: new Date(this.lastError.at).toISOString() }),
      ...(this.reported === undefined ? {} : { reportedVersion: this.reported }),
      ...(this.skipped === undefined ? {} : { skippedVersion: this.skipped }),
      ...(this.refused === undefined ? {} : { unverifiedVersion: this.refused }),
    };
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }
}
