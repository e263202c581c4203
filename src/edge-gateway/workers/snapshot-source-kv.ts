/**
 * The gateway's one snapshot reader module: a `SnapshotSource` over the CONFIG KV namespace the
 * control worker publishes to. Verification happens in the core `SnapshotReader`; this module
 * only reads what is stored: the signed manifest head (`manifest:<target>`) and the
 * content-addressed blobs it names (`blob:<sha256>`), as laid out in src/core/snapshot/kv-layout.ts.
 */
import type { SignedHead, SnapshotSource } from "../../core/snapshot/snapshot-reader.ts";
import { blobKey, manifestKey } from "../../core/snapshot/kv-layout.ts";

/** KV key of a target's published manifest head (`manifest:gateway`). */
export function snapshotKey(target: string): string {
  return manifestKey(target);
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
    async blob(hash) {
      const bytes = await kv.get(blobKey(hash), "arrayBuffer");
      return bytes === null ? null : new Uint8Array(bytes);
    },
  };
}
