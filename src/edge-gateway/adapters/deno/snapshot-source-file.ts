/**
 * Snapshot source for the Deno gateway: a JSON file holding the signed head exactly as the control
 * API serves it (`curl -H "authorization: Bearer $T" $CONTROL/v1/snapshots/gateway`), plus, for the
 * manifest layout, the blobs it names: `{ ...head, "blobs": { "<sha256>": "<base64>" } }`.
 * Re-read on every check; verified against the trust bundle like any other source.
 */
import type { SignedHead, SnapshotSource } from "../../../core/snapshot/snapshot-reader.ts";

interface SnapshotFile extends Partial<SignedHead> {
  blobs?: Record<string, string>;
}

function fromBase64(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function fileSnapshotSource(path: string, readText: (path: string) => Promise<string>): SnapshotSource {
  let last: SnapshotFile | undefined;
  return {
    async head() {
      let text: string;
      try {
        text = await readText(path);
      } catch {
        return null;
      }
      const body = JSON.parse(text) as SnapshotFile;
      if (typeof body.version !== "number" || typeof body.jws !== "string") throw new Error(`${path}: not a signed snapshot head (version, jws)`);
      last = body;
      return { version: body.version, jws: body.jws };
    },
    async blob(hash) {
      const b64 = last?.blobs?.[hash];
      return b64 === undefined ? null : fromBase64(b64);
    },
  };
}
