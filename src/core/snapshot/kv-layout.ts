/**
 * Where the control plane stores published snapshots in KV, and a `SnapshotSource` over any
 * store with KV's `get` (the gateway passes its KV binding; tests pass a Miniflare one).
 *
 * - `manifest:<target>` -> JSON `{ version, revision, hash, jws }` (the signed head)
 * - `blob:<sha256>`    -> the blob's bytes (immutable: the same key always holds the same bytes;
 *   deleted once no manifest references it, and written again if one does later)
 */
import type { SignedHead, SnapshotSource } from "./snapshot-reader.ts";

export function manifestKey(target: string): string {
  return `manifest:${target}`;
}

export function blobKey(hash: string): string {
  return `blob:${hash}`;
}

/** The part of a KV binding the source reads with (structural, so core stays runtime-free). */
export interface KeyValueReader {
  get(key: string, type: "text"): Promise<string | null>;
  get(key: string, type: "arrayBuffer"): Promise<ArrayBuffer | null>;
}

/**
 * Reads heads and blobs straight from KV (no long-poll: KV has no wait; callers poll, and the
 * reader fetches only blobs it lacks, so an unchanged head costs one small read).
 */
export function kvSnapshotSource(kv: KeyValueReader): SnapshotSource {
  return {
    async head(target) {
      const text = await kv.get(manifestKey(target), "text");
      if (text === null) return null;
      return signedHead(manifestKey(target), text);
    },
    async blob(hash) {
      const buf = await kv.get(blobKey(hash), "arrayBuffer");
      return buf === null ? null : new Uint8Array(buf);
    },
  };
}

/** A stored head, checked for the fields a reader needs (the signature is checked by the reader). */
function signedHead(key: string, text: string): SignedHead {
  let stored: { version?: unknown; jws?: unknown; hash?: unknown; revision?: unknown } | null;
  try {
    stored = JSON.parse(text) as typeof stored;
  } catch {
    stored = null;
  }
  if (stored === null || typeof stored !== "object" || typeof stored.version !== "number" || typeof stored.jws !== "string") throw new Error(`KV ${key}: not a published snapshot head`);
  const head: SignedHead = { version: stored.version, jws: stored.jws };
  if (typeof stored.hash === "string") head.hash = stored.hash;
  if (typeof stored.revision === "number") head.revision = stored.revision;
  return head;
}
