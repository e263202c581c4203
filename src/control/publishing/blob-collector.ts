/**
 * Garbage collection of content-addressed snapshot blobs in KV.
 *
 * Blobs are referenced by holders: each target's live head (what the publisher answers and
 * serves blobs for) and each target's KV copy of a manifest (`manifest:<target>`, what the edge
 * gateway reads; it lags the live head until the copy lands). A blob is live while any holder
 * references it. When the last holder lets it go, it is retired, with the time; it stays in KV for
 * the retention period, because readers of KV may still hold an older manifest (KV copies take up
 * to a minute to reach every location), and a config that flips back reuses it. A retired blob a
 * holder takes again is live again and never deleted. A retired blob whose retention has passed
 * is forgotten as stored (so a later run writes it again if it needs it) and then deleted.
 *
 * Only holders and runs ever put a blob in the publisher's stored set: a blob the collector finds
 * by listing KV (which can be stale) or reads back from its ledger (a delete may have landed
 * before the ledger's update) is never assumed stored, so no run skips writing a blob that may be
 * gone.
 *
 * Blobs no holder ever referenced (a failed run wrote them; an eviction interrupted a run; data
 * from before this collector) are found by a sweep that lists KV's `blob:` keys a few pages per
 * pass, every `sweepIntervalMs` (the last sweep's time is kept in the ledger).
 *
 * Retirement times and the sweep time are kept in a durable ledger (the publisher object's
 * storage), so an object evicted and started again keeps their clocks. A pass that KV refused
 * (a delete or a list) backs off before the next.
 *
 * Not safe to run concurrently with a publish run: a run skips writing blobs it believes stored.
 * The publisher runs {@link BlobCollector.collect} only while no run is in progress.
 */

/** The durable record: blob hash -> retiredAt (epoch ms), and when the last full sweep ended. */
export interface RetirementLedger {
  load(): Promise<{ retired: Map<string, number>; sweptAt: number | undefined }>;
  put(entries: ReadonlyMap<string, number>): Promise<void>;
  delete(hashes: readonly string[]): Promise<void>;
  setSweptAt(at: number): Promise<void>;
}

/** KV as the collector sees it: blob keys by hash. */
export interface BlobStore {
  /** One page of stored blob hashes, in key order, from `cursor`. */
  list(cursor: string | undefined): Promise<{ hashes: string[]; cursor: string | undefined }>;
  delete(hash: string): Promise<void>;
}

export interface BlobCollectorOptions {
  /** How long a retired blob stays in KV. */
  retentionMs: number;
  /** How often KV is swept for blobs no holder references. Default 6 h. */
  sweepIntervalMs?: number;
  /** KV list pages read per pass (1,000 keys each). Default 5. */
  sweepPagesPerPass?: number;
  /**
   * KV deletes per pass; the rest wait for the next pass. Default 500: with the list pages, a pass
   * stays well inside the 1,000 KV operations a Worker invocation may make.
   */
  maxDeletesPerPass?: number;
  ledger: RetirementLedger;
  store: BlobStore;
  /** The publisher's set of blobs it believes stored in KV (runs skip writing those). */
  storedBlobs: Set<string>;
}

export interface CollectPass {
  deleted: number;
  /** Deletes KV refused; they stay retired and are tried again after a backoff. */
  failed: number;
  /** Blobs the sweep found that no holder references. */
  swept: number;
}

export interface CollectorStatus {
  /** Distinct blobs live heads and KV manifest copies reference. */
  live: number;
  /** Retired blobs still in KV. */
  retired: number;
  /** Blobs deleted since the object started. */
  deletedTotal: number;
  /** When the last full sweep of KV ended (null: none recorded). */
  lastSweepAt: number | null;
}

const DEFAULT_SWEEP_INTERVAL_MS = 6 * 60 * 60 * 1000;
/** A sweep still has pages to read: the next pass comes this soon. */
const SWEEP_CONTINUE_MS = 1000;
/** After KV refused a delete or a list: 5 s doubling to 10 min. */
const RETRY_BASE_MS = 5000;
const RETRY_MAX_MS = 10 * 60 * 1000;

export class BlobCollector {
  /** Holder key (`live:<target>`, `kv:<target>`) -> the distinct blobs it references. */
  private readonly holders = new Map<string, readonly string[]>();
  /** Holders whose blobs are not known (see {@link holdUnknown}). */
  private readonly unknown = new Set<string>();
  private readonly refs = new Map<string, number>();
  /** Retired blobs by retirement time, oldest first (times only grow, so insertion order is time order). */
  private readonly retired = new Map<string, number>();
  /** Written by the current run; the ones no holder took are retired when it settles. */
  private readonly written = new Set<string>();
  /** Ledger writes owed (retirements, and reprieves or deletes of blobs no longer retired). */
  private readonly owedPuts = new Map<string, number>();
  private readonly owedDeletes = new Set<string>();
  private readonly sweepIntervalMs: number;
  private readonly sweepPages: number;
  private readonly maxDeletes: number;
  /** The sweep in progress (undefined when none); its cursor is undefined before the first page. */
  private sweep: { cursor: string | undefined } | undefined;
  /** When the next sweep pass is due. */
  private nextSweepAt = 0;
  private lastSweepAt: number | null = null;
  /** Passes KV refused in a row, and when the next pass may come after them. */
  private refusals = 0;
  private retryAt = 0;
  private deletedTotal = 0;
  private loaded = false;

  constructor(private readonly o: BlobCollectorOptions) {
    this.sweepIntervalMs = o.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
    this.sweepPages = o.sweepPagesPerPass ?? 5;
    this.maxDeletes = o.maxDeletesPerPass ?? 500;
  }

  /** Reads the ledger (once), after the holders the object started with were given to {@link hold}. */
  async load(): Promise<void> {
    if (this.loaded) return;
    const { retired, sweptAt } = await this.o.ledger.load();
    this.loaded = true;
    for (const [hash, at] of [...retired].sort((a, b) => a[1] - b[1])) {
      // Retired, then taken again before the ledger heard: live.
      if (this.isLive(hash)) this.owedDeletes.add(hash);
      else this.retired.set(hash, at);
    }
    if (sweptAt !== undefined) {
      this.lastSweepAt = sweptAt;
      this.nextSweepAt = sweptAt + this.sweepIntervalMs;
    }
  }

  /**
   * `holder` now references exactly `blobs` (an empty list lets go of everything). Blobs it takes
   * are live (and withdrawn from retirement); blobs no holder references any more are retired at `now`.
   */
  hold(holder: string, blobs: readonly string[], now: number): void {
    const next = [...new Set(blobs)];
    const before = this.holders.get(holder) ?? [];
    this.unknown.delete(holder);
    if (next.length === 0) this.holders.delete(holder);
    else this.holders.set(holder, next);
    for (const hash of next) {
      const n = (this.refs.get(hash) ?? 0) + 1;
      this.refs.set(hash, n);
      if (n === 1 && this.retired.delete(hash)) {
        this.owedPuts.delete(hash);
        this.owedDeletes.add(hash);
      }
    }
    for (const hash of before) {
      const n = (this.refs.get(hash) ?? 0) - 1;
      if (n > 0) {
        this.refs.set(hash, n);
        continue;
      }
      this.refs.delete(hash);
      this.retire(hash, now);
    }
  }

  /**
   * `holder` references blobs nobody can name now (a manifest copy in KV that could not be read
   * back): no blob is deleted until {@link hold} names them.
   */
  holdUnknown(holder: string): void {
    this.unknown.add(holder);
  }

  /** The current run wrote `hash` to KV. */
  wrote(hash: string): void {
    this.written.add(hash);
  }

  /** True while a holder references `hash`. */
  isLive(hash: string): boolean {
    return (this.refs.get(hash) ?? 0) > 0;
  }

  /**
   * The end of a run: blobs it wrote that no holder took (its failed targets') are retired, and
   * the ledger is brought up to date.
   */
  async settle(now: number): Promise<void> {
    for (const hash of this.written) if (!this.isLive(hash)) this.retire(hash, now);
    this.written.clear();
    await this.flushLedger();
  }

  /** When the next pass has work: the oldest retention to end, or the next sweep; never before a backoff ends. */
  nextPassAt(now: number): number {
    const oldest = this.retired.values().next();
    const next = oldest.done === true ? this.nextSweepAt : Math.min(this.nextSweepAt, oldest.value + this.o.retentionMs);
    return Math.max(next, this.retryAt, now);
  }

  /** One pass: a few pages of a sweep when one is due, then the deletes whose retention ended. */
  async collect(now: number): Promise<CollectPass> {
    await this.load();
    if (now < this.retryAt) return { deleted: 0, failed: 0, swept: 0 };
    let refused = false;
    let swept = 0;
    try {
      swept = await this.sweepSome(now);
    } catch (err) {
      refused = true;
      console.error("snapshot blob sweep: KV list failed", err instanceof Error ? err.message : String(err));
    }
    const due = this.dueForDelete(now);
    // Forgotten as stored before the delete: a run after this never counts on a blob that may be gone.
    for (const hash of due) this.o.storedBlobs.delete(hash);
    const results = await Promise.allSettled(due.map((hash) => this.o.store.delete(hash)));
    let failed = 0;
    let deleted = 0;
    results.forEach((r, i) => {
      const hash = due[i] as string;
      if (r.status === "rejected") {
        failed++;
        return;
      }
      deleted++;
      this.retired.delete(hash);
      this.owedPuts.delete(hash);
      this.owedDeletes.add(hash);
    });
    this.deletedTotal += deleted;
    if (refused || failed > 0) {
      this.refusals++;
      this.retryAt = now + Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(this.refusals - 1, 20));
    } else {
      this.refusals = 0;
      this.retryAt = 0;
    }
    await this.flushLedger();
    return { deleted, failed, swept };
  }

  /** Retired blobs whose retention has ended, oldest first, at most a pass's worth. */
  private dueForDelete(now: number): string[] {
    const due: string[] = [];
    // While some holder's blobs are unknown, any retired blob may be one of them: none is deleted.
    if (this.unknown.size > 0) return due;
    for (const [hash, at] of this.retired) {
      if (due.length >= this.maxDeletes || at + this.o.retentionMs > now) break;
      due.push(hash);
    }
    return due;
  }

  status(): CollectorStatus {
    return { live: this.refs.size, retired: this.retired.size, deletedTotal: this.deletedTotal, lastSweepAt: this.lastSweepAt };
  }

  private retire(hash: string, now: number): void {
    if (this.retired.has(hash)) return;
    this.retired.set(hash, now);
    this.owedDeletes.delete(hash);
    this.owedPuts.set(hash, now);
  }

  private async sweepSome(now: number): Promise<number> {
    if (now < this.nextSweepAt) return 0;
    this.sweep ??= { cursor: undefined };
    let found = 0;
    for (let page = 0; page < this.sweepPages; page++) {
      const { hashes, cursor } = await this.o.store.list(this.sweep.cursor);
      for (const hash of hashes) {
        if (this.isLive(hash) || this.retired.has(hash)) continue;
        this.retire(hash, now);
        found++;
      }
      if (cursor === undefined) {
        this.sweep = undefined;
        this.lastSweepAt = now;
        this.nextSweepAt = now + this.sweepIntervalMs;
        await this.o.ledger.setSweptAt(now);
        return found;
      }
      this.sweep.cursor = cursor;
    }
    this.nextSweepAt = now + SWEEP_CONTINUE_MS;
    return found;
  }

  /** Writes what the ledger is owed; what a failed write owed stays owed for the next flush. */
  private async flushLedger(): Promise<void> {
    if (this.owedPuts.size > 0) {
      const puts = new Map(this.owedPuts);
      await this.o.ledger.put(puts);
      for (const [hash, at] of puts) if (this.owedPuts.get(hash) === at) this.owedPuts.delete(hash);
    }
    if (this.owedDeletes.size > 0) {
      const deletes = [...this.owedDeletes];
      await this.o.ledger.delete(deletes);
      for (const hash of deletes) this.owedDeletes.delete(hash);
    }
  }
}
