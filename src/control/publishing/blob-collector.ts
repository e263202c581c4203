/**
 * Garbage collection of content-addressed snapshot blobs in KV.
 *
 * A blob is live while a live head (any target's current manifest) references it. When the last
 * head that references it is replaced, the blob is retired, with the time; it stays in KV for the
 * retention period, because readers of KV (the edge gateway) may still hold the previous manifest
 * (KV copies take up to a minute to reach every location), and a config that flips back reuses it.
 * A retired blob a new head references again is live again and never deleted. A retired blob whose
 * retention has passed is forgotten as stored (so a later run writes it again if it needs it) and
 * then deleted from KV.
 *
 * Blobs no head ever referenced (a run that failed, or stopped with its object evicted, after
 * writing them; data from before this collector) are found by a sweep that lists KV's `blob:` keys
 * a few pages at a time: on the first pass of every incarnation, then every `sweepIntervalMs`.
 * They are retired when found.
 *
 * Retirement times are kept in a durable ledger (the publisher object's storage), so an object
 * evicted and started again keeps their clocks instead of starting them over.
 *
 * Not safe to run concurrently with a publish run: a run skips writing blobs it believes stored.
 * The publisher runs {@link BlobCollector.collect} only while no run is in progress.
 */

/** The durable record of retirements: blob hash -> retiredAt (epoch ms). */
export interface RetirementLedger {
  load(): Promise<Map<string, number>>;
  put(entries: ReadonlyMap<string, number>): Promise<void>;
  delete(hashes: readonly string[]): Promise<void>;
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
  /** How often KV is swept for blobs no head references. Default 6 h. */
  sweepIntervalMs?: number;
  /** KV list pages read per pass (1,000 keys each). Default 5. */
  sweepPagesPerPass?: number;
  /** KV deletes per pass; the rest wait for the next pass. Default 1,000. */
  maxDeletesPerPass?: number;
  ledger: RetirementLedger;
  store: BlobStore;
  /** The publisher's set of blobs it believes stored in KV (runs skip writing those). */
  storedBlobs: Set<string>;
}

export interface CollectPass {
  deleted: number;
  /** Deletes KV refused; they stay retired and are tried again by the next pass. */
  failed: number;
  /** Blobs the sweep found that no head references. */
  swept: number;
}

export interface CollectorStatus {
  /** Distinct blobs live heads reference. */
  live: number;
  /** Retired blobs still in KV. */
  retired: number;
  /** Blobs deleted since the object started. */
  deletedTotal: number;
  /** When the last full sweep of KV finished (null: none yet in this incarnation). */
  lastSweepAt: number | null;
}

const DEFAULT_SWEEP_INTERVAL_MS = 6 * 60 * 60 * 1000;
/** A sweep still has pages to read: the next pass comes this soon. */
const SWEEP_CONTINUE_MS = 1000;

export class BlobCollector {
  private readonly refs = new Map<string, number>();
  private readonly retired = new Map<string, number>();
  /** Written by the current run; the ones no head took are retired when it settles. */
  private readonly written = new Set<string>();
  /** Ledger writes owed (retirements, and reprieves of blobs live again). */
  private readonly owedPuts = new Map<string, number>();
  private readonly owedDeletes = new Set<string>();
  private readonly sweepIntervalMs: number;
  private readonly sweepPages: number;
  private readonly maxDeletes: number;
  /** The sweep in progress (undefined when none); its cursor is undefined before the first page. */
  private sweep: { cursor: string | undefined } | undefined;
  /** When the next sweep pass is due: at once in a fresh object. */
  private nextSweepAt = 0;
  private lastSweepAt: number | null = null;
  private deletedTotal = 0;
  private loaded = false;

  constructor(private readonly o: BlobCollectorOptions) {
    this.sweepIntervalMs = o.sweepIntervalMs ?? DEFAULT_SWEEP_INTERVAL_MS;
    this.sweepPages = o.sweepPagesPerPass ?? 5;
    this.maxDeletes = o.maxDeletesPerPass ?? 1000;
  }

  /** Reads the ledger (once); a retired blob is one the publisher still believes stored. */
  async load(): Promise<void> {
    if (this.loaded) return;
    this.loaded = true;
    for (const [hash, at] of await this.o.ledger.load()) {
      if ((this.refs.get(hash) ?? 0) > 0) {
        this.owedDeletes.add(hash);
        continue;
      }
      this.retired.set(hash, at);
      this.o.storedBlobs.add(hash);
    }
  }

  /** A head that was live when the object started. */
  adopt(blobs: readonly string[]): void {
    for (const hash of new Set(blobs)) this.refs.set(hash, (this.refs.get(hash) ?? 0) + 1);
  }

  /** A target's head replaced (`before` undefined: its first head). */
  replace(before: readonly string[] | undefined, after: readonly string[], now: number): void {
    const next = new Set(after);
    for (const hash of next) {
      const n = (this.refs.get(hash) ?? 0) + 1;
      this.refs.set(hash, n);
      if (n === 1 && this.retired.delete(hash)) {
        this.owedPuts.delete(hash);
        this.owedDeletes.add(hash);
      }
    }
    if (before === undefined) return;
    for (const hash of new Set(before)) {
      const n = (this.refs.get(hash) ?? 0) - 1;
      if (n > 0) {
        this.refs.set(hash, n);
        continue;
      }
      this.refs.delete(hash);
      this.retire(hash, now);
    }
  }

  /** The current run wrote `hash` to KV. */
  wrote(hash: string): void {
    this.written.add(hash);
  }

  /** True while a live head references `hash`. */
  isLive(hash: string): boolean {
    return (this.refs.get(hash) ?? 0) > 0;
  }

  /**
   * The end of a run: blobs it wrote that no head references (its failed targets') are retired,
   * and the ledger is brought up to date.
   */
  async settle(now: number): Promise<void> {
    for (const hash of this.written) if (!this.isLive(hash)) this.retire(hash, now);
    this.written.clear();
    await this.flushLedger();
  }

  /** When the next pass has work: the earliest retention to end, or the next sweep. */
  nextPassAt(now: number): number {
    let next = this.nextSweepAt;
    for (const at of this.retired.values()) next = Math.min(next, at + this.o.retentionMs);
    return Math.max(next, now);
  }

  /** One pass: a few pages of a sweep when one is due, then the deletes whose retention ended. */
  async collect(now: number): Promise<CollectPass> {
    await this.load();
    const swept = await this.sweepSome(now);
    const due: string[] = [];
    for (const [hash, at] of this.retired) {
      if (due.length >= this.maxDeletes) break;
      if (at + this.o.retentionMs <= now && !this.isLive(hash)) due.push(hash);
    }
    // Forgotten as stored before the delete: a run after this never counts on a blob that may be gone.
    for (const hash of due) this.o.storedBlobs.delete(hash);
    const results = await Promise.allSettled(due.map((hash) => this.o.store.delete(hash)));
    const gone: string[] = [];
    let failed = 0;
    results.forEach((r, i) => {
      const hash = due[i] as string;
      if (r.status === "rejected") {
        failed++;
        return;
      }
      this.retired.delete(hash);
      this.owedPuts.delete(hash);
      this.owedDeletes.add(hash);
      gone.push(hash);
    });
    this.deletedTotal += gone.length;
    await this.flushLedger();
    return { deleted: gone.length, failed, swept };
  }

  status(): CollectorStatus {
    return { live: this.refs.size, retired: this.retired.size, deletedTotal: this.deletedTotal, lastSweepAt: this.lastSweepAt };
  }

  private retire(hash: string, now: number): void {
    if (this.retired.has(hash)) return;
    this.retired.set(hash, now);
    this.o.storedBlobs.add(hash);
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
