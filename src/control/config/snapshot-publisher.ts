/**
 * Publishing after a write: the write has committed; this only asks the publisher object
 * (src/control/publishing/config-publisher.ts) to publish. It never compiles on the request path.
 */
import type { Database } from "../db.ts";
import type { ControlEnv } from "../env.ts";
import { requestPublish } from "../publishing/publisher-client.ts";

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
