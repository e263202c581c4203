/**
 * The gateway's current snapshot, compiled, in isolate memory. Requests read `current()` once
 * and keep that view across their awaits; a refresh swaps the reference when a newer snapshot
 * verifies. The version check is cheap and happens at most every `checkIntervalMs`, in the
 * background (`waitUntil`) once something is loaded, so no request waits for a reload. A
 * snapshot that fails verification is refused and the last good one keeps serving.
 */
import type { Clock } from "../../core/clock.ts";
import type { GatewaySnapshot } from "../../core/snapshot/snapshot-model.ts";
import type { SnapshotReader, VerifiedSnapshot } from "../../core/snapshot/snapshot-reader.ts";

export interface SnapshotStateOptions<C> {
  reader: SnapshotReader<GatewaySnapshot>;
  compile(v: VerifiedSnapshot<GatewaySnapshot>): C;
  clock: Clock;
  /** Default 2000 ms: a change is live within ~2 s plus KV propagation (5 s locally at most). */
  checkIntervalMs?: number;
  /** Long-poll wait passed to the source once a snapshot is loaded (HTTP sources); default none. */
  waitSeconds?: number;
  log?(message: string): void;
}

export interface SnapshotStatus {
  version?: number;
  revision?: number;
  hash?: string;
  loadedAt?: string;
  lastCheckAt?: string;
  /** Last refusal or read failure (the previous snapshot kept serving). */
  lastError?: { message: string; at: string; version?: number };
  refused: number;
}

export class SnapshotState<C> {
  private active: { verified: VerifiedSnapshot<GatewaySnapshot>; compiled: C; loadedAt: number } | undefined;
  private lastCheck = Number.NEGATIVE_INFINITY;
  private inflight: Promise<void> | undefined;
  private lastError: SnapshotStatus["lastError"];
  private refused = 0;
  private readonly interval: number;

  constructor(private readonly o: SnapshotStateOptions<C>) {
    this.interval = o.checkIntervalMs ?? 2000;
  }

  /**
   * The compiled snapshot to serve this request with. The first call (cold isolate) waits for a
   * load; later calls return at once and, when the check interval has passed, start a
   * background check through `waitUntil`.
   */
  async current(background: { waitUntil(p: Promise<unknown>): void }): Promise<C | undefined> {
    const ready = this.ready(background);
    if (ready !== undefined) return ready;
    if (this.o.clock.now() - this.lastCheck >= Math.min(this.interval, 1000) || this.inflight !== undefined) await this.refresh();
    return this.loaded();
  }

  /**
   * The loaded snapshot without waiting (undefined while nothing is loaded: then call `current`).
   * Starts the background version check when it is due, so a request never pays for one.
   */
  ready(background: { waitUntil(p: Promise<unknown>): void }, now?: number): C | undefined {
    const a = this.active;
    if (a === undefined) return undefined;
    // `now`: the caller's clock reading for this request (the gateway's start time), saving a reading.
    if (this.inflight === undefined && (now ?? this.o.clock.now()) - this.lastCheck >= this.interval) background.waitUntil(this.refresh());
    return a.compiled;
  }

  private loaded(): C | undefined {
    return this.active?.compiled;
  }

  /** Checks for a newer snapshot now (single flight). */
  refresh(): Promise<void> {
    this.inflight ??= this.check().finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  status(): SnapshotStatus {
    const iso = (ms: number) => new Date(ms).toISOString();
    const a = this.active;
    return {
      ...(a === undefined ? {} : { version: a.verified.version, revision: a.verified.revision, hash: a.verified.hash, loadedAt: iso(a.loadedAt) }),
      ...(Number.isFinite(this.lastCheck) ? { lastCheckAt: iso(this.lastCheck) } : {}),
      ...(this.lastError === undefined ? {} : { lastError: this.lastError }),
      refused: this.refused,
    };
  }

  private async check(): Promise<void> {
    this.lastCheck = this.o.clock.now();
    try {
      const next = await this.o.reader.poll(this.active?.verified, this.active === undefined || this.o.waitSeconds === undefined ? {} : { waitSeconds: this.o.waitSeconds });
      if (next === undefined) return;
      const compiled = this.o.compile(next);
      this.active = { verified: next, compiled, loadedAt: this.o.clock.now() };
      this.o.log?.(`gateway snapshot v${next.version} (revision ${next.revision}) is live`);
    } catch (err) {
      this.refused++;
      const message = err instanceof Error ? err.message : String(err);
      this.lastError = { message, at: new Date(this.o.clock.now()).toISOString() };
      this.o.log?.(`gateway snapshot refused, ${this.active === undefined ? "nothing to serve yet" : `v${this.active.verified.version} keeps serving`}: ${message}`);
    }
  }
}
