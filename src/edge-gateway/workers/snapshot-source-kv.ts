/**
 * The gateway's one snapshot reader module: a `SnapshotSource` over the CONFIG KV namespace the
 * control worker publishes to. Verification happens in the core `SnapshotReader`; this module
 * only reads what is stored. (When the control plane moves to a signed manifest +
 * content-addressed blobs, this is the only gateway file that follows.)
 */
import type { SignedHead, SnapshotSource } from "../../core/snapshot/snapshot-reader.ts";

/** KV key of a target's published snapshot (`snapshot:gateway`). */
export function snapshotKey(target: string): string {
  return `snapshot:${target}`;
}

export function kvSnapshotSource(kv: KVNamespace): SnapshotSource {
  return {
    async head(target) {
      const stored = await kv.get<{ version?: unknown; jws?: unknown; hash?: unknown; revision?: unknown }>(snapshotKey(target), "json");
      if (stored === null) return null;
      if (typeof stored.version !== "number" || typeof stored.jws !== "string") throw new Error(`KV ${snapshotKey(target)}: not a published snapshot head`);
      const head: SignedHead = { version: stored.version, jws: stored.jws };
      if (typeof stored.hash === "string") head.hash = stored.hash;
      if (typeof stored.revision === "number") head.revision = stored.revision;
      return head;
    },
  };
}
