import type { ControlEnv } from "../env.ts";

/** Vars of the publisher and the long-poll (wrangler.toml `[env.control.vars]`). */
export interface PublisherSettings {
  /** Largest blob, bytes: SNAPSHOT_MAX_BLOB_BYTES, default 20 MiB (KV's value limit is 25 MiB). */
  maxBlobBytes: number;
  /** How long a snapshot blob no live manifest references stays in KV: SNAPSHOT_BLOB_RETENTION_SECONDS, default 600 (at least 1). */
  blobRetentionSeconds: number;
  /** How often KV's blob keys are listed for blobs no manifest references: SNAPSHOT_BLOB_SWEEP_INTERVAL_SECONDS, default 21600 (6 h; at least 1). */
  blobSweepIntervalSeconds: number;
  /** Longest `?wait=` of a snapshot long-poll: SNAPSHOT_LONGPOLL_MAX_SECONDS, default 60. */
  maxWaitSeconds: number;
  /** Long-polls one credential may hold at once: SNAPSHOT_LONGPOLL_MAX_PER_CREDENTIAL, default 4. */
  maxWaitsPerCredential: number;
  /** Longest `?wait=` of a write waiting for its publish: PUBLISH_WAIT_MAX_SECONDS, default 120. */
  maxPublishWaitSeconds: number;
}

function positive(raw: string | undefined, fallback: number, min = 0): number {
  const n = raw === undefined || raw.trim() === "" ? Number.NaN : Number(raw);
  return Number.isFinite(n) && n >= min ? n : fallback;
}

export function publisherSettings(env: ControlEnv): PublisherSettings {
  return {
    maxBlobBytes: Math.floor(positive(env.SNAPSHOT_MAX_BLOB_BYTES, 20 * 1024 * 1024, 1024)),
    blobRetentionSeconds: positive(env.SNAPSHOT_BLOB_RETENTION_SECONDS, 600, 1),
    blobSweepIntervalSeconds: positive(env.SNAPSHOT_BLOB_SWEEP_INTERVAL_SECONDS, 21_600, 1),
    maxWaitSeconds: positive(env.SNAPSHOT_LONGPOLL_MAX_SECONDS, 60),
    maxWaitsPerCredential: Math.floor(positive(env.SNAPSHOT_LONGPOLL_MAX_PER_CREDENTIAL, 4, 1)),
    maxPublishWaitSeconds: positive(env.PUBLISH_WAIT_MAX_SECONDS, 120),
  };
}
