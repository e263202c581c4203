import { numberVar, type NumberVarSpec } from "../../core/env-vars.ts";
import type { ControlEnv } from "../env.ts";

const MiB = 1024 * 1024;

/**
 * Vars of the publisher and the long-poll (wrangler.toml `[env.control.vars]`). Unset or empty
 * means the default; any other value outside its range is an `UnavailableError` (503) naming the
 * var, thrown when the field is read (see {@link publisherSettings}).
 */
export interface PublisherSettings {
  /** Largest blob, bytes: SNAPSHOT_MAX_BLOB_BYTES, an integer from 1024 to 26214400 (KV's 25 MiB value limit), default 20 MiB. */
  readonly maxBlobBytes: number;
  /** How long a snapshot blob no live manifest references stays in KV: SNAPSHOT_BLOB_RETENTION_SECONDS, 1 to 2592000 (30 d), default 600. */
  readonly blobRetentionSeconds: number;
  /** How often KV's blob keys are listed for blobs no manifest references: SNAPSHOT_BLOB_SWEEP_INTERVAL_SECONDS, 1 to 604800 (7 d), default 21600 (6 h). */
  readonly blobSweepIntervalSeconds: number;
  /** Longest `?wait=` of a snapshot long-poll: SNAPSHOT_LONGPOLL_MAX_SECONDS, 0 to 3600, default 60. */
  readonly maxWaitSeconds: number;
  /** Long-polls one credential may hold at once: SNAPSHOT_LONGPOLL_MAX_PER_CREDENTIAL, an integer from 1 to 1000, default 4. */
  readonly maxWaitsPerCredential: number;
  /** Longest `?wait=` of a write waiting for its publish: PUBLISH_WAIT_MAX_SECONDS, 0 to 3600, default 120. */
  readonly maxPublishWaitSeconds: number;
}

type PublisherVar =
  | "SNAPSHOT_MAX_BLOB_BYTES"
  | "SNAPSHOT_BLOB_RETENTION_SECONDS"
  | "SNAPSHOT_BLOB_SWEEP_INTERVAL_SECONDS"
  | "SNAPSHOT_LONGPOLL_MAX_SECONDS"
  | "SNAPSHOT_LONGPOLL_MAX_PER_CREDENTIAL"
  | "PUBLISH_WAIT_MAX_SECONDS";

/** Accepted range and default of each var (docs/control-plane.md, Settings). */
export const PUBLISHER_VARS: { readonly [K in PublisherVar]: NumberVarSpec & { name: K } } = {
  SNAPSHOT_MAX_BLOB_BYTES: { name: "SNAPSHOT_MAX_BLOB_BYTES", fallback: 20 * MiB, min: 1024, max: 25 * MiB, integer: true },
  SNAPSHOT_BLOB_RETENTION_SECONDS: { name: "SNAPSHOT_BLOB_RETENTION_SECONDS", fallback: 600, min: 1, max: 30 * 86_400 },
  SNAPSHOT_BLOB_SWEEP_INTERVAL_SECONDS: { name: "SNAPSHOT_BLOB_SWEEP_INTERVAL_SECONDS", fallback: 21_600, min: 1, max: 7 * 86_400 },
  SNAPSHOT_LONGPOLL_MAX_SECONDS: { name: "SNAPSHOT_LONGPOLL_MAX_SECONDS", fallback: 60, min: 0, max: 3600 },
  SNAPSHOT_LONGPOLL_MAX_PER_CREDENTIAL: { name: "SNAPSHOT_LONGPOLL_MAX_PER_CREDENTIAL", fallback: 4, min: 1, max: 1000, integer: true },
  PUBLISH_WAIT_MAX_SECONDS: { name: "PUBLISH_WAIT_MAX_SECONDS", fallback: 120, min: 0, max: 3600 },
};

/**
 * The publisher's settings. Each field is parsed when it is read, so a bad var fails only what
 * uses it: a bad PUBLISH_WAIT_MAX_SECONDS refuses `?wait=` on writes with 503, and snapshot
 * long-polls keep working.
 */
export function publisherSettings(env: ControlEnv): PublisherSettings {
  const read = (k: PublisherVar) => numberVar(env[k], PUBLISHER_VARS[k]);
  return {
    get maxBlobBytes() {
      return read("SNAPSHOT_MAX_BLOB_BYTES");
    },
    get blobRetentionSeconds() {
      return read("SNAPSHOT_BLOB_RETENTION_SECONDS");
    },
    get blobSweepIntervalSeconds() {
      return read("SNAPSHOT_BLOB_SWEEP_INTERVAL_SECONDS");
    },
    get maxWaitSeconds() {
      return read("SNAPSHOT_LONGPOLL_MAX_SECONDS");
    },
    get maxWaitsPerCredential() {
      return read("SNAPSHOT_LONGPOLL_MAX_PER_CREDENTIAL");
    },
    get maxPublishWaitSeconds() {
      return read("PUBLISH_WAIT_MAX_SECONDS");
    },
  };
}
