/**
 * The gateway's one snapshot reader module: a `SnapshotSource` over the CONFIG KV namespace the
 * control worker publishes to. Verification happens in the core `SnapshotReader`; what is stored
 * where (the signed manifest head `manifest:<target>`, the content-addressed blobs `blob:<sha256>`)
 * is src/core/snapshot/kv-layout.ts, whose source this is.
 */
import type { SnapshotSource } from "../../core/snapshot/snapshot-reader.ts";
import { kvSnapshotSource as layoutSource, manifestKey } from "../../core/snapshot/kv-layout.ts";

/** KV key of a target's published manifest head (`manifest:gateway`). */
export function snapshotKey(target: string): string {
  return manifestKey(target);
}

export function kvSnapshotSource(kv: KVNamespace): SnapshotSource {
  return layoutSource(kv);
}
