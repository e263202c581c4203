/** What the publisher object answers (shared by the object and the worker routes that call it). */

export interface PublicHead {
  version: number;
  revision: number;
  hash: string;
  jws: string;
}

export type HeadAnswer = { status: 200; head: PublicHead } | { status: 304; version: number } | { status: 404 } | { status: 429 } | { status: 401; message: string };

export interface WaitForRevisionAnswer {
  state: "Published" | "Failed" | "Pending";
  revision: number;
  /** Newest revision whose run published every target. */
  publishedRevision: number;
  failed?: { target: string; error: string }[];
}

export interface PublisherStatus {
  publishedRevision: number;
  running: boolean;
  nextRunAt: string | null;
  runs: number;
  failedRuns: number;
  lastError: string | null;
  lastRun: {
    revision: number;
    startedAt: string;
    durationMs: number;
    published: number;
    unchanged: number;
    failed: { target: string; error: string }[];
    blobsWritten: number;
    bytesWritten: number;
  } | null;
  /** Long-polls held now. */
  waiting: number;
  targets: number;
  /** Snapshot blobs in KV (blob-collector.ts): referenced by live heads, retired (deleted once their retention ends), deleted since the object started. */
  blobs: { live: number; retired: number; deletedTotal: number; lastSweepAt: string | null; /** Why blob collection is off (a misconfigured SNAPSHOT_BLOB_* var), else null. */ error: string | null };
}

/** The publisher object's RPC surface, as the worker sees it through its stub. */
export interface PublisherRpc {
  requestPublish(): Promise<void>;
  waitForRevision(revision: number, waitMs: number): Promise<WaitForRevisionAnswer>;
  /** `node`: the caller's SPIFFE ID when its standing (attested, not revoked) is left to the publisher. */
  head(target: string, known: number | undefined, waitMs: number, credential: string, maxPerCredential: number, node?: string): Promise<HeadAnswer>;
  hasBlob(target: string, hash: string): Promise<boolean>;
  /** Why `spiffeId` may not read snapshots (revoked, not attested), or null when it may. */
  nodeStanding(spiffeId: string): Promise<string | null>;
  /** A node was revoked (or attested): reload the standing of nodes now, then publish. */
  nodesChanged(): Promise<void>;
  status(): Promise<PublisherStatus>;
}
