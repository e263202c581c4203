/**
 * Publishing after a write: the write has committed; this only asks the publisher object
 * (src/control/publishing/config-publisher.ts) to publish. It never compiles on the request path.
 */
import type { Database } from "../db.ts";
import type { ControlEnv } from "../env.ts";
import { publisher, requestPublish } from "../publishing/publisher-client.ts";

/** JWS `typ` of a signed snapshot manifest. */
export { SNAPSHOT_TYP as SNAPSHOT_JWS_TYP } from "../../core/snapshot/snapshot-reader.ts";

/**
 * Asks for a publish after a landed write (config, revocation, attestation). Returns once the
 * publisher has the request, not when it published; `?wait=` on the write waits for that.
 * `db` and `now` are kept for callers written against the synchronous publisher.
 */
export async function publishAfterWrite(env: ControlEnv, _db?: Database, _now?: number): Promise<void> {
  await requestPublish(env);
}

/**
 * After a node's standing changed (revoked): the publisher reloads who may read snapshots before
 * this returns, then publishes (node snapshots carry the deny list).
 */
export async function nodesChangedAfterWrite(env: ControlEnv): Promise<void> {
  try {
    await publisher(env).nodesChanged();
  } catch (err) {
    // The revocation has committed; the publisher reads node standing again within minutes anyway.
    console.error("publisher: node standing refresh failed", err instanceof Error ? err.message : String(err));
  }
}
