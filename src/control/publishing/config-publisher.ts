/**
 * The publisher: one Durable Object (name "mesh") owns publishing and the waiting long-polls.
 *
 * - `requestPublish()` (after every landed write or revocation) only marks work and sets an
 *   alarm; bursts coalesce: a run starts at most every {@link MIN_RUN_INTERVAL_MS} and covers
 *   every revision committed before it started.
 * - A run (publish-run.ts; started by an in-memory timer, backed by a durable alarm) reads only
 *   the revision-log rows committed since the last run (resource-mirror.ts), recompiles only what
 *   they touched (compile memo + long-lived splitter), writes the new blobs to KV, stores each
 *   changed target's signed head in this object's storage and answers that target's long-polls at
 *   once; then it copies the new heads to KV (`manifest:<target>`, read by the edge gateway) and
 *   records per-target status in D1. A copy that fails is made again by the next run. A run with
 *   a failure is retried with exponential backoff, and a run is always followed by another when
 *   writes arrived meanwhile, so publishing converges to the newest revision.
 * - `head()` serves the long-poll from memory: no D1 or KV read while a proxy waits.
 * - Blobs neither a live head nor a manifest copy in KV references are deleted from KV after
 *   SNAPSHOT_BLOB_RETENTION_SECONDS (blob-collector.ts), on the alarm, never beside a run.
 */
import { DurableObject } from "cloudflare:workers";
import type { ControlEnv } from "../env.ts";
import { database } from "../db.ts";
import { getControlSigner } from "../signer.ts";
import { attestedNodes, revocations } from "../../../schema/identity.ts";
import { blobKey, manifestKey } from "../../core/snapshot/kv-layout.ts";
import { CompileMemo } from "../../core/snapshot/compile-memo.ts";
import { DEFAULT_DOMAIN_SUFFIX } from "../../core/config/hosts.ts";
import { SnapshotSplitter, blobHashes, type SnapshotManifest } from "../../core/snapshot/snapshot-layout.ts";
import { base64url } from "jose";
import { ResourceMirror } from "./resource-mirror.ts";
import { readNodeStanding, standingRefusal } from "../identity/nodes.ts";
import { SNAPSHOT_TYP } from "../../core/snapshot/snapshot-reader.ts";
import { DEFAULT_TARGET_CONCURRENCY, FULL_RUN_TARGET_CONCURRENCY, runPublish, type PublishedHead, type PublishRunReport } from "./publish-run.ts";
import { HeadWaiters } from "./head-waiters.ts";
import { BlobCollector, type BlobStore, type RetirementLedger } from "./blob-collector.ts";
import { listTargetStatus, recordRun } from "./publish-status.ts";
import { publisherSettings } from "./publisher-settings.ts";
import type { HeadAnswer, PublisherStatus, WaitForRevisionAnswer } from "./publisher-api.ts";

/** Delay from a request to the run it triggers when the publisher was idle (writes of one burst arrive within it). */
export const DEBOUNCE_MS = 2;
/** Runs start at least this far apart: a burst of writes becomes a handful of runs. */
export const MIN_RUN_INTERVAL_MS = 200;
/** Backoff after a failed run: 1 s doubling to 5 min. */
const BACKOFF_BASE_MS = 1000;
const BACKOFF_MAX_MS = 5 * 60 * 1000;
/** The durable alarm trails the in-memory timer by this much: it only matters if the object was evicted. */
const ALARM_BACKUP_MS = 2000;
/** Node standing older than this is read again from D1 on use (a lost `nodesChanged` is bounded by it). */
const STANDING_MAX_AGE_MS = 5 * 60 * 1000;
/** A run applying more change rows than this compiles like a full run (fewer targets at once). */
const LARGE_CHANGE_ROWS = 500;
/** How long a first read of a target nobody compiled yet waits for a run. */
const FIRST_PUBLISH_WAIT_MS = 15_000;

interface RunSummary {
  revision: number;
  startedAt: number;
  durationMs: number;
  published: number;
  unchanged: number;
  failed: { target: string; error: string }[];
  blobsWritten: number;
  bytesWritten: number;
}

interface RevisionWaiter {
  revision: number;
  settle(answer: WaitForRevisionAnswer): void;
}

export class ConfigPublisher extends DurableObject<ControlEnv> {
  private readonly heads = new Map<string, PublishedHead>();
  /** Node standing (attested, revoked) by SPIFFE ID, refreshed by every run and by `nodesChanged`. */
  private standing: { attested: Set<string>; revoked: Set<string>; loadedAt: number; seq: number } | undefined;
  /** Numbers reads of the node tables in the order they start: only a later-started read replaces `standing`. */
  private standingReads = 0;
  /** Targets with a row in D1's status table (known after this incarnation's first run). */
  private recordedTargets: Set<string> | undefined;
  /** Targets whose live head is not yet copied to KV (`manifest:<target>`). */
  private readonly copyPending = new Set<string>();
  /**
   * The last version of each target that was removed (`gone:<target>` in storage): a target that
   * comes back (a node evicted and attested again) continues from it, so versions never go back.
   */
  private readonly goneVersions = new Map<string, number>();
  private readonly storedBlobs = new Set<string>();
  private loading: Promise<void> | undefined;
  private requested = 0;
  /** `requested` when the last run of this incarnation started (-1: none yet). */
  private lastSeen = -1;
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** True while this object's storage says a run is owed (PUBLISH_OWED). */
  private owedRecorded = false;
  private running = false;
  /** The run in progress. */
  private current: Promise<void> | undefined;
  /** A collector pass is in progress (no run starts beside it). */
  private collecting = false;
  /** A run was refused during the pass; it is scheduled when the pass ends. */
  private runAfterPass = false;
  /** When a failed run is retried. */
  private retryAt = 0;
  private lastStart = 0;
  private failedRuns = 0;
  private publishedRevision = 0;
  private runs = 0;
  private lastRun: RunSummary | undefined;
  private lastError: string | undefined;
  private readonly waiters = new HeadWaiters<PublishedHead>();
  private revisionWaiters: RevisionWaiter[] = [];
  /** The stored config, kept current from the revision log between runs. */
  private readonly mirror = new ResourceMirror();
  /** What the last run compiled and serialised, reused for everything a change did not touch. */
  private memo: CompileMemo | undefined;
  private splitter: SnapshotSplitter | undefined;
  /** Deletes blobs no live head references (built by `load`; none while its vars are misconfigured). */
  private collector: BlobCollector | undefined;
  /** Why there is no collector: a bad SNAPSHOT_BLOB_* var (publishing and long-polls carry on without it). */
  private collectorError: string | undefined;

  /** Asks for a publish of everything committed so far; returns at once. */
  async requestPublish(): Promise<void> {
    try {
      await this.load();
    } catch (err) {
      // Durable even so (if storage takes it): the object that loads next publishes this write.
      await this.ctx.storage.put(PUBLISH_OWED, true).catch(() => undefined);
      throw err;
    }
    this.requested++;
    await this.schedule();
  }

  /**
   * Answers when a run that started after `revision` was committed finished: Published when every
   * target published or was unchanged, Failed (with the failing targets) otherwise; Pending when
   * `waitMs` pass first.
   */
  async waitForRevision(revision: number, waitMs: number): Promise<WaitForRevisionAnswer> {
    await this.load();
    const now = this.answerFor(revision);
    if (now !== undefined) return now;
    await this.schedule();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.revisionWaiters = this.revisionWaiters.filter((w) => w !== waiter);
        resolve({ state: "Pending", revision, publishedRevision: this.publishedRevision });
      }, Math.max(0, waitMs));
      const waiter: RevisionWaiter = {
        revision,
        settle: (answer) => {
          clearTimeout(timer);
          resolve(answer);
        },
      };
      this.revisionWaiters.push(waiter);
    });
  }

  /**
   * The target's head: at once when newer than `known` (or `known` is absent), otherwise held
   * until a newer one is published or `waitMs` pass. At most `maxPerCredential` held per credential.
   */
  async head(target: string, known: number | undefined, waitMs: number, credential: string, maxPerCredential: number, node?: string): Promise<HeadAnswer> {
    await this.load();
    if (node !== undefined) {
      const refused = await this.nodeStanding(node);
      if (refused !== null) return { status: 401, message: refused };
    }
    const answer = await this.headFor(target, known, waitMs, credential, maxPerCredential);
    // A node revoked while it waited gets no new version.
    if (node !== undefined && answer.status === 200) {
      const refused = await this.nodeStanding(node);
      if (refused !== null) return { status: 401, message: refused };
    }
    return answer;
  }

  /**
   * Why `spiffeId` may not read snapshots, or null. From memory (no D1 read) for every node
   * this object already knows; a node attested since the last run is looked up once.
   */
  async nodeStanding(spiffeId: string): Promise<string | null> {
    const s = await this.nodeStandingSets();
    let standing = { attested: s.attested.has(spiffeId), revoked: s.revoked.has(spiffeId) };
    if (!standing.attested && !standing.revoked) {
      // Not known here yet (attested since the last run): one look in D1, remembered.
      standing = await readNodeStanding(database(this.env), spiffeId);
      if (standing.attested) s.attested.add(spiffeId);
      if (standing.revoked) s.revoked.add(spiffeId);
    }
    return standingRefusal(spiffeId, standing);
  }

  async nodesChanged(): Promise<void> {
    await this.load();
    await this.refreshStanding();
    this.requested++;
    await this.schedule();
  }

  private async nodeStandingSets(): Promise<{ attested: Set<string>; revoked: Set<string> }> {
    // Runs and `nodesChanged` keep it current; the age bound only covers a notification that never arrived.
    const held = this.standing;
    if (held !== undefined && Date.now() - held.loadedAt <= STANDING_MAX_AGE_MS) return held;
    return this.refreshStanding();
  }

  /** Marks the start of a read of the node tables: the order of starts decides which read {@link setStanding} keeps. */
  private beginStandingRead(): { seq: number; loadedAt: number } {
    return { seq: ++this.standingReads, loadedAt: Date.now() };
  }

  /**
   * Takes a read of the node tables unless one that started later is already in place: a read
   * that began before an eviction or a revocation committed never undoes it. Returns what is held.
   */
  private setStanding(read: { seq: number; loadedAt: number }, nodes: readonly { spiffeId: string }[], revoked: readonly { spiffeId: string }[]): NonNullable<ConfigPublisher["standing"]> {
    const held = this.standing;
    if (held !== undefined && held.seq > read.seq) return held;
    const standing = { attested: new Set(nodes.map((n) => n.spiffeId)), revoked: new Set(revoked.map((r) => r.spiffeId)), ...read };
    this.standing = standing;
    return standing;
  }

  private async refreshStanding(): Promise<NonNullable<ConfigPublisher["standing"]>> {
    const db = database(this.env);
    const read = this.beginStandingRead();
    const [nodes, revoked] = await Promise.all([db.select({ spiffeId: attestedNodes.spiffeId }).from(attestedNodes), db.select({ spiffeId: revocations.spiffeId }).from(revocations)]);
    return this.setStanding(read, nodes, revoked);
  }

  private async headFor(target: string, known: number | undefined, waitMs: number, credential: string, maxPerCredential: number): Promise<HeadAnswer> {
    const h = this.heads.get(target);
    if (h === undefined) {
      // Nothing published for it (a node attested after the last run, or evicted and attested
      // again): publish, then answer with whatever version that run gives it.
      this.requested++;
      await this.schedule();
      if (known === undefined) {
        const answer = await this.waiters.wait(target, 0, `first:${credential}`, Math.min(waitMs > 0 ? waitMs : FIRST_PUBLISH_WAIT_MS, FIRST_PUBLISH_WAIT_MS), maxPerCredential);
        if (answer.kind === "head") return { status: 200, head: publicHead(answer.head) };
        return answer.kind === "too-many" ? { status: 429 } : { status: 404 };
      }
      // A reader that holds a version (of a target taken down): a version after it (a returning
      // target continues after its last one), within its own wait; never answered at once, so a
      // poll loop on an absent target cannot drive a run per poll.
      const answer = await this.waiters.wait(target, known, credential, Math.min(waitMs, FIRST_PUBLISH_WAIT_MS), maxPerCredential);
      if (answer.kind === "head") return { status: 200, head: publicHead(answer.head) };
      return answer.kind === "too-many" ? { status: 429 } : { status: 304, version: known };
    }
    if (known === undefined || h.version > known) return { status: 200, head: publicHead(h) };
    const answer = await this.waiters.wait(target, known, credential, waitMs, maxPerCredential);
    if (answer.kind === "head") return { status: 200, head: publicHead(answer.head) };
    if (answer.kind === "too-many") return { status: 429 };
    return { status: 304, version: this.heads.get(target)?.version ?? known };
  }

  /** True when `hash` is one of the blobs of the target's live manifest. */
  async hasBlob(target: string, hash: string): Promise<boolean> {
    await this.load();
    return this.heads.get(target)?.blobs.includes(hash) ?? false;
  }

  async status(): Promise<PublisherStatus> {
    await this.load();
    const alarm = await this.ctx.storage.getAlarm();
    return {
      publishedRevision: this.publishedRevision,
      running: this.running,
      nextRunAt: alarm === null ? null : new Date(alarm).toISOString(),
      runs: this.runs,
      failedRuns: this.failedRuns,
      lastError: this.lastError ?? null,
      lastRun: this.lastRun === undefined ? null : { ...this.lastRun, startedAt: new Date(this.lastRun.startedAt).toISOString() },
      waiting: this.waiters.size,
      targets: this.heads.size,
      blobs: this.collectorStatus(),
    };
  }

  private collectorStatus(): PublisherStatus["blobs"] {
    const s = this.collector?.status() ?? { live: 0, retired: 0, deletedTotal: 0, lastSweepAt: null };
    return { ...s, lastSweepAt: s.lastSweepAt === null ? null : new Date(s.lastSweepAt).toISOString(), error: this.collectorError ?? null };
  }

  /**
   * The durable alarm: the backup of the in-memory timer, a failed run's retry, and the blob
   * collector's passes. It makes the collector's pass when one is due (the collector runs only
   * here, never beside a run, within the alarm invocation's own KV operations), then schedules an
   * owed run, or starts a failed run's retry once its backoff has passed.
   */
  override async alarm(): Promise<void> {
    await this.load();
    if (this.running) {
      // Held open until the run ends (it re-arms the alarm), so an eviction cannot lose the wake-up.
      await this.current;
      await this.armAlarm();
      return;
    }
    // The collector's pass first, so writes arriving about once a run cannot starve it; a run
    // owed meanwhile waits for it (runNow does not start beside the collector).
    this.collecting = true;
    this.runAfterPass = false;
    try {
      await this.collectGarbage();
    } finally {
      this.collecting = false;
    }
    if (this.requested > Math.max(this.lastSeen, 0) || this.runAfterPass) {
      // Through the timer, which keeps runs MIN_RUN_INTERVAL_MS apart (and re-arms this alarm as its backup).
      await this.schedule();
    } else if (this.failedRuns > 0 && Date.now() >= this.retryAt) {
      await this.runNow();
      return;
    }
    await this.armAlarm();
  }

  /** One collector pass when one is due. */
  private async collectGarbage(): Promise<void> {
    const collector = this.collector;
    if (collector === undefined) return;
    const now = Date.now();
    if (collector.nextPassAt(now) > now) return;
    try {
      const pass = await collector.collect(now);
      if (pass.failed > 0) console.error("snapshot blob collection: KV refused", pass.failed, "deletes; they are tried again after a backoff");
    } catch (err) {
      console.error("snapshot blob collection failed", err instanceof Error ? err.message : String(err));
    }
  }

  /** Makes sure an alarm comes by the next thing owed: a failed run's retry, the collector's next pass. */
  private async armAlarm(): Promise<void> {
    const now = Date.now();
    let at = this.collector?.nextPassAt(now);
    if (this.failedRuns > 0 && !this.running) at = Math.min(at ?? this.retryAt, this.retryAt);
    if (at === undefined) return;
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  private runNow(): Promise<void> {
    if (this.collecting) {
      // Started again once the pass ends (whatever asked for it: a request, a revision waiter).
      this.runAfterPass = true;
      return Promise.resolve();
    }
    if (this.running) return this.current ?? Promise.resolve();
    // This run covers whatever the pending timer was for.
    clearTimeout(this.timer);
    this.timer = undefined;
    this.running = true;
    const run = this.runOnce().finally(() => {
      if (this.current === run) this.current = undefined;
    });
    this.current = run;
    return run;
  }

  private async runOnce(): Promise<void> {
    const seen = this.requested;
    this.lastSeen = seen;
    const startedAt = Date.now();
    this.lastStart = startedAt;
    let failed = false;
    try {
      const summary = await this.publishOnce(startedAt);
      failed = summary.failed.length > 0;
      this.lastRun = summary;
      this.lastError = failed ? summary.failed.map((f) => `${f.target}: ${f.error}`).join("; ") : undefined;
      if (!failed) this.publishedRevision = Math.max(this.publishedRevision, summary.revision);
      this.settleRevisionWaiters(summary);
    } catch (err) {
      failed = true;
      this.lastError = err instanceof Error ? err.message : String(err);
      console.error("snapshot publish failed", this.lastError);
    } finally {
      try {
        // Blobs this run wrote that no head took are retired; the ledger is brought up to date.
        await this.collector?.settle(Date.now());
      } catch (err) {
        console.error("snapshot blob ledger write failed", err instanceof Error ? err.message : String(err));
      }
      this.runs++;
    }
    this.failedRuns = failed ? this.failedRuns + 1 : 0;
    this.retryAt = failed ? Date.now() + Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** Math.min(this.failedRuns - 1, 20)) : 0;
    try {
      await this.ctx.storage.put("state", { publishedRevision: this.publishedRevision, runs: this.runs }, { allowConcurrency: true });
      if (!failed && this.requested === seen && this.owedRecorded) {
        // A request arriving meanwhile records it again after this write (storage keeps call order).
        this.owedRecorded = false;
        await this.ctx.storage.put(PUBLISH_OWED, false, { allowConcurrency: true });
      }
    } finally {
      // `running` ends only here, after the run's own writes, so no second run starts during them;
      // a request made meanwhile was recorded by `schedule()` and is picked up just below.
      this.running = false;
    }
    if (this.requested > seen) await this.schedule();
    await this.armAlarm();
  }

  private answerFor(revision: number): WaitForRevisionAnswer | undefined {
    if (this.publishedRevision >= revision) return { state: "Published", revision, publishedRevision: this.publishedRevision };
    const last = this.lastRun;
    if (last !== undefined && last.revision >= revision && last.failed.length > 0) {
      return { state: "Failed", revision, publishedRevision: this.publishedRevision, failed: last.failed };
    }
    return undefined;
  }

  private settleRevisionWaiters(summary: RunSummary): void {
    const keep: RevisionWaiter[] = [];
    for (const w of this.revisionWaiters) {
      if (w.revision > summary.revision) keep.push(w);
      else if (summary.failed.length > 0) w.settle({ state: "Failed", revision: w.revision, publishedRevision: this.publishedRevision, failed: summary.failed });
      else w.settle({ state: "Published", revision: w.revision, publishedRevision: this.publishedRevision });
    }
    this.revisionWaiters = keep;
  }

  /**
   * Starts a run soon: an in-memory timer (milliseconds, coalescing everything requested until it
   * fires), backed by a durable alarm in case the object is evicted before it fires.
   */
  private async schedule(): Promise<void> {
    if (!this.owedRecorded) {
      // Durable, so an object evicted before the run knows on its next start that one is owed
      // (its alarm may be only the blob collector's, which owes no run).
      this.owedRecorded = true;
      await this.ctx.storage.put(PUBLISH_OWED, true, { allowConcurrency: true });
    }
    if (this.running) return; // the running run schedules the next one when it ends
    const now = Date.now();
    const at = Math.max(now + DEBOUNCE_MS, this.lastStart + MIN_RUN_INTERVAL_MS);
    if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.runNow().catch((err: unknown) => console.error("snapshot publish run failed", err instanceof Error ? err.message : String(err)));
      }, at - now);
    }
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at + ALARM_BACKUP_MS) await this.ctx.storage.setAlarm(at + ALARM_BACKUP_MS);
  }

  private load(): Promise<void> {
    this.loading ??= (async () => {
      const [heads, state, owed, gone] = await Promise.all([
        this.ctx.storage.list<StoredHead>({ prefix: "head:" }),
        this.ctx.storage.get<{ publishedRevision: number; runs: number }>("state"),
        this.ctx.storage.get<boolean>(PUBLISH_OWED),
        this.ctx.storage.list<number>({ prefix: GONE_PREFIX }),
      ]);
      for (const [key, version] of gone) this.goneVersions.set(key.slice(GONE_PREFIX.length), version);
      const collector = this.newCollector();
      const now = Date.now();
      const owedCopies: string[] = [];
      for (const stored of heads.values()) {
        const { copyPending, ...h } = stored;
        this.heads.set(h.target, h);
        for (const b of h.blobs) this.storedBlobs.add(b);
        collector?.hold(liveHolder(h.target), h.blobs, now);
        if (copyPending === true) {
          this.copyPending.add(h.target);
          owedCopies.push(h.target);
        } else {
          collector?.hold(kvHolder(h.target), h.blobs, now);
        }
      }
      // The manifest KV still serves for a head whose copy is owed: an older one, read back (held,
      // never taken as stored: the read may be stale). Unreadable: unknown, and nothing is deleted
      // until that target's copy lands.
      if (collector !== undefined) {
        const inKv = await Promise.all(owedCopies.map((t) => this.blobsOfKvCopy(t)));
        owedCopies.forEach((t, i) => {
          const blobs = inKv[i];
          if (blobs === undefined || blobs === null) collector.holdUnknown(kvHolder(t));
          else collector.hold(kvHolder(t), blobs, now);
        });
        await collector.load();
      }
      this.collector = collector;
      this.publishedRevision = state?.publishedRevision ?? 0;
      this.runs = state?.runs ?? 0;
      // A fresh object (first deployment, or state lost) converges by publishing once; so does one
      // that still owes KV copies of live heads.
      // So does one whose last incarnation had a run owed (requested, failed or interrupted), or
      // that never recorded whether one is (written before the flag existed).
      this.owedRecorded = owed === true;
      if (state === undefined || this.copyPending.size > 0 || owed !== false) {
        this.requested++;
        await this.schedule();
      }
      await this.armAlarm();
    })().catch((err: unknown) => {
      // Tried again by the next call, not remembered as failed for the object's lifetime.
      this.loading = undefined;
      throw err;
    });
    return this.loading;
  }

  /**
   * The blob collector, or none (logged, and shown in the status) while SNAPSHOT_BLOB_RETENTION_SECONDS
   * or SNAPSHOT_BLOB_SWEEP_INTERVAL_SECONDS is misconfigured: no blob is deleted with a guessed
   * retention, and publishing and long-polls carry on.
   */
  private newCollector(): BlobCollector | undefined {
    let retentionMs: number;
    let sweepIntervalMs: number;
    try {
      const settings = publisherSettings(this.env);
      retentionMs = settings.blobRetentionSeconds * 1000;
      sweepIntervalMs = settings.blobSweepIntervalSeconds * 1000;
    } catch (err) {
      this.collectorError = `blob collection is off: ${err instanceof Error ? err.message : String(err)}`;
      console.error("snapshot publisher:", this.collectorError);
      return undefined;
    }
    this.collectorError = undefined;
    return new BlobCollector({ retentionMs, sweepIntervalMs, ledger: this.retirementLedger(), store: this.blobStore(), storedBlobs: this.storedBlobs });
  }

  /** Retirement times in this object's storage (`retired:<hash>`), written 128 keys at a time. */
  private retirementLedger(): RetirementLedger {
    const storage = this.ctx.storage;
    return {
      load: async () => {
        const [retired, sweptAt] = await Promise.all([storage.list<number>({ prefix: RETIRED_PREFIX }), storage.get<number>(SWEPT_AT)]);
        return { retired: new Map([...retired].map(([k, at]) => [k.slice(RETIRED_PREFIX.length), at])), sweptAt };
      },
      setSweptAt: (at) => storage.put(SWEPT_AT, at, { allowConcurrency: true }),
      put: async (entries) => {
        const all = [...entries];
        for (let i = 0; i < all.length; i += 128) {
          await storage.put(Object.fromEntries(all.slice(i, i + 128).map(([hash, at]) => [RETIRED_PREFIX + hash, at])), { allowConcurrency: true });
        }
      },
      delete: async (hashes) => {
        for (let i = 0; i < hashes.length; i += 128) {
          await storage.delete(hashes.slice(i, i + 128).map((hash) => RETIRED_PREFIX + hash), { allowConcurrency: true });
        }
      },
    };
  }

  /** The `blob:` keys of the CONFIG namespace. */
  private blobStore(): BlobStore {
    const kv = this.env.CONFIG;
    const prefix = blobKey("");
    return {
      list: async (cursor) => {
        const page = await kv.list({ prefix, ...(cursor === undefined ? {} : { cursor }) });
        return { hashes: page.keys.map((k) => k.name.slice(prefix.length)), cursor: page.list_complete ? undefined : page.cursor };
      },
      delete: (hash) => kv.delete(blobKey(hash)),
    };
  }

  /** Copies a live head to KV, where the edge gateway and other readers look. `copied` collects it. */
  private async copyToKv(head: PublishedHead, copied: PublishedHead[]): Promise<void> {
    await this.env.CONFIG.put(manifestKey(head.target), JSON.stringify({ version: head.version, revision: head.revision, hash: head.hash, jws: head.jws }));
    copied.push(head);
  }

  /**
   * Clears the copy debt of `copied` heads in one storage write per 128 (a write per head would
   * hold every answer of the object behind its output gate through the whole copy phase). Only a
   * target's newest head clears it: a newer one may have gone live meanwhile.
   */
  private async settleCopies(copied: readonly PublishedHead[]): Promise<void> {
    const entries: Record<string, PublishedHead> = {};
    const now = Date.now();
    for (const head of copied) {
      // KV holds this manifest now: the blobs of the one it replaced may go (after their retention).
      this.collector?.hold(kvHolder(head.target), head.blobs, now);
      if (this.heads.get(head.target) !== head) continue;
      this.copyPending.delete(head.target);
      entries[`head:${head.target}`] = head;
    }
    const keys = Object.keys(entries);
    for (let i = 0; i < keys.length; i += 128) {
      const batch = Object.fromEntries(keys.slice(i, i + 128).map((k) => [k, entries[k]]));
      await this.ctx.storage.put(batch, { allowConcurrency: true });
    }
  }

  /**
   * The blobs of the manifest KV holds for `target` (read back at start for a head whose copy was
   * still owed): empty when there is none, null when it cannot be read (logged).
   */
  private async blobsOfKvCopy(target: string): Promise<string[] | null> {
    try {
      const text = await this.env.CONFIG.get(manifestKey(target), "text");
      if (text === null) return [];
      const { jws } = JSON.parse(text) as { jws: string };
      const manifest = JSON.parse(new TextDecoder().decode(base64url.decode(jws.split(".")[1] ?? ""))) as SnapshotManifest;
      return blobHashes(manifest);
    } catch (err) {
      console.error("snapshot blob collection: the KV manifest of", target, "is unreadable", err instanceof Error ? err.message : String(err));
      return null;
    }
  }

  /** Makes the KV copies an earlier run (or incarnation) still owes; returns the ones that failed again. */
  private async retryCopies(): Promise<{ target: string; error: string }[]> {
    const owed = [...this.copyPending].flatMap((t) => this.heads.get(t) ?? []);
    const copied: PublishedHead[] = [];
    const results = await Promise.allSettled(owed.map((h) => this.copyToKv(h, copied)));
    await this.settleCopies(copied);
    return results.flatMap((r, i) => (r.status === "rejected" ? [{ target: owed[i]!.target, error: `manifest copy: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}` }] : []));
  }

  /**
   * Takes down targets the config no longer has (a node evicted, or whose WorkloadEntries all
   * went): the KV copy of the manifest first, then the head, so nothing serves a target whose
   * copy could not be deleted; its blobs are let go (deleted after their retention) and its last
   * version is kept. A target whose KV delete fails stays live and is tried again by the next run.
   */
  private async removeTargets(targets: readonly string[]): Promise<void> {
    for (const target of targets) {
      const head = this.heads.get(target);
      if (head === undefined) continue;
      try {
        await this.env.CONFIG.delete(manifestKey(target));
        await this.ctx.storage.put(GONE_PREFIX + target, head.version, { allowConcurrency: true });
        await this.ctx.storage.delete(`head:${target}`, { allowConcurrency: true });
      } catch (err) {
        // The KV copy may be gone already: should the target come back unchanged, the next run copies it again.
        this.copyPending.add(target);
        console.error("snapshot target removal failed", target, err instanceof Error ? err.message : String(err));
        continue;
      }
      this.heads.delete(target);
      this.copyPending.delete(target);
      this.goneVersions.set(target, head.version);
      const now = Date.now();
      this.collector?.hold(liveHolder(target), [], now);
      this.collector?.hold(kvHolder(target), [], now);
    }
  }

  private async publishOnce(startedAt: number): Promise<RunSummary> {
    const env = this.env;
    const db = database(env);
    const settings = publisherSettings(env);
    const copyFailures = await this.retryCopies();
    const trustDomain = env.TRUST_DOMAIN ?? "strait.local";
    const rootNamespace = env.ROOT_NAMESPACE ?? "strait-system";
    const standingRead = this.beginStandingRead();
    const [config, nodes, revoked, status] = await Promise.all([
      this.mirror.refresh(db, startedAt),
      db.select({ spiffeId: attestedNodes.spiffeId, cluster: attestedNodes.cluster, node: attestedNodes.node }).from(attestedNodes),
      db.select({ spiffeId: revocations.spiffeId, revokedAt: revocations.revokedAt }).from(revocations),
      // The status table once per incarnation; after that this object knows what it recorded.
      this.recordedTargets === undefined ? listTargetStatus(db) : Promise.resolve([]),
    ]);
    const revision = config.revision;
    // Not taken when a `nodesChanged` (a revocation, an eviction) began reading after this run did.
    this.setStanding(standingRead, nodes, revoked);
    const scope = { trustDomain, rootNamespace, domainSuffix: DEFAULT_DOMAIN_SUFFIX };
    if (this.memo === undefined || !this.memo.fits(scope)) this.memo = new CompileMemo(scope);
    this.splitter ??= new SnapshotSplitter({ maxBlobBytes: settings.maxBlobBytes, isStored: (h) => this.storedBlobs.has(h) });
    const previous = new Map<string, { version: number; hash: string }>();
    // D1 first (a fresh object), then what this object itself published (authoritative).
    for (const s of status) if (s.version > 0) previous.set(s.target, { version: s.version, hash: s.hash });
    for (const h of this.heads.values()) previous.set(h.target, { version: h.version, hash: h.hash });
    // A removed target that comes back publishes again (no hash matches ""), after its last version.
    for (const [target, version] of this.goneVersions) {
      if (!this.heads.has(target)) previous.set(target, { version: Math.max(version, previous.get(target)?.version ?? 0), hash: "" });
    }
    let signer: Awaited<ReturnType<typeof getControlSigner>> | undefined;
    const copied: PublishedHead[] = [];
    const sizes = new Map<string, number>();
    const report: PublishRunReport = await runPublish({
      inputs: { resources: config.resources, nodes: nodes.map((n) => ({ cluster: n.cluster, node: n.node })), revocations: revoked, revision },
      trustDomain,
      rootNamespace,
      previous,
      storedBlobs: this.storedBlobs,
      maxBlobBytes: settings.maxBlobBytes,
      memo: this.memo,
      splitter: this.splitter,
      // Everything (or much) read anew means many objects new to the memo and many new blobs per
      // target: fewer targets at once bound the memory.
      targetConcurrency: config.mode === "full" || config.rows > LARGE_CHANGE_ROWS ? FULL_RUN_TARGET_CONCURRENCY : DEFAULT_TARGET_CONCURRENCY,
      store: {
        putBlob: async (hash, bytes) => {
          await env.CONFIG.put(blobKey(hash), bytes);
          this.collector?.wrote(hash);
        },
        // The head is live once it is in this object's storage (the long-polls are answered from
        // it); its KV copy follows, and a copy that fails is made again by the next run.
        putManifest: async (head) => {
          this.copyPending.add(head.target);
          // allowConcurrency: reads of other targets' heads and new long-polls are not held up by
          // this write (the output gate still holds every answer until it is durable).
          await this.ctx.storage.put(`head:${head.target}`, { ...head, copyPending: true }, { allowConcurrency: true });
          this.heads.set(head.target, head);
          // The KV copy keeps holding the older manifest's blobs until this head's copy lands.
          this.collector?.hold(liveHolder(head.target), head.blobs, Date.now());
          sizes.set(head.target, head.jws.length);
        },
        copyManifest: (head) => this.copyToKv(head, copied),
      },
      sign: async (payload) => {
        signer ??= await getControlSigner(env);
        return signer.signJws(payload, SNAPSHOT_TYP);
      },
      onTarget: (_outcome, head) => {
        if (head !== undefined) this.waiters.notify(head.target, head);
      },
    });
    await this.settleCopies(copied);
    const live = new Set(report.targets.map((t) => t.target));
    await this.removeTargets([...this.heads.keys()].filter((t) => !live.has(t)));
    // Reads of a target no longer (or never) in the config, asked before this run began: answered now, not after their wait.
    this.waiters.expireAbsent(live, startedAt);
    const recorded = this.recordedTargets ?? new Set(status.map((s) => s.target));
    await recordRun(db, report, sizes, Date.now(), [...recorded].filter((t) => !live.has(t)));
    this.recordedTargets = live;
    const failed = [
      ...copyFailures.filter((f) => !report.targets.some((t) => t.target === f.target && t.state === "published")),
      ...report.targets.filter((t) => t.state === "failed").map((t) => ({ target: t.target, error: t.error ?? "publish failed" })),
    ];
    for (const f of failed) console.error("snapshot publish failed", f.target, f.error);
    return {
      revision,
      startedAt,
      durationMs: Date.now() - startedAt,
      published: report.targets.filter((t) => t.state === "published").length,
      unchanged: report.targets.filter((t) => t.state === "unchanged").length,
      failed,
      blobsWritten: report.targets.reduce((n, t) => n + t.blobsWritten, 0),
      bytesWritten: report.targets.reduce((n, t) => n + t.bytesWritten + t.manifestBytes, 0),
    };
  }
}

/** Storage keys of removed targets' last versions. */
const GONE_PREFIX = "gone:";

/** Storage key marking a run as owed, from a request until a run that covered it succeeded. */
const PUBLISH_OWED = "publishOwed";

/** The blob collector's holders: a target's live head, and its manifest copy in KV. */
function liveHolder(target: string): string {
  return `live:${target}`;
}
function kvHolder(target: string): string {
  return `kv:${target}`;
}

/** Storage keys of the blob collector's ledger: retirement times, and when the last sweep ended. */
const RETIRED_PREFIX = "retired:";
const SWEPT_AT = "blobSweptAt";

/** A head as this object stores it: `copyPending` until its KV copy is made. */
type StoredHead = PublishedHead & { copyPending?: true };

function publicHead(h: PublishedHead): { version: number; revision: number; hash: string; jws: string } {
  return { version: h.version, revision: h.revision, hash: h.hash, jws: h.jws };
}
