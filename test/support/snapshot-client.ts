/**
 * Reading published snapshots in tests the way data planes do: a `SnapshotSource` over the control
 * API (manifest head with long-poll, blobs by hash) and the control-plane keys from the public
 * trust bundle, verified by the real `SnapshotReader`.
 */
import { importJWK, type JWK } from "jose";
import type { StartedWorker } from "./control-worker.ts";
import { NOT_MODIFIED, SnapshotReader, type SignedHead, type SnapshotSource, type VerificationKeyLookup } from "../../src/core/snapshot/snapshot-reader.ts";
import type { Snapshot } from "../../src/core/snapshot/snapshot-model.ts";

/** The control API path of a target's head. */
export function headPath(target: string): string {
  if (target === "gateway") return "/v1/snapshots/gateway";
  const m = /^node:([^/]+)\/(.+)$/.exec(target);
  if (m === null) throw new TypeError(`not a snapshot target: ${target}`);
  return `/v1/snapshots/nodes/${m[1]}/${m[2]}`;
}

export interface CountingSource extends SnapshotSource {
  /** Blob requests made so far. */
  blobReads: number;
}

/** A source over the control API with `token` (a node JWT-SVID or the admin token). */
export function httpSnapshotSource(w: StartedWorker, token: () => string): CountingSource {
  const source: CountingSource = {
    blobReads: 0,
    async head(target, o = {}) {
      const headers: Record<string, string> = { authorization: `Bearer ${token()}` };
      if (o.knownVersion !== undefined) headers["if-none-match"] = `"${o.knownVersion}"`;
      const q = o.waitSeconds === undefined ? "" : `?wait=${o.waitSeconds}`;
      const r = await w.fetch(`${headPath(target)}${q}`, { headers, ...(o.signal === undefined ? {} : { signal: o.signal }) });
      if (r.status === 304) return NOT_MODIFIED;
      if (r.status === 404) {
        await r.body?.cancel();
        return null;
      }
      if (r.status !== 200) throw new Error(`head ${target}: ${r.status} ${await r.text()}`);
      return (await r.json()) as SignedHead;
    },
    async blob(hash) {
      source.blobReads++;
      const r = await w.fetch(`/v1/snapshots/blobs/${hash}`, { headers: { authorization: `Bearer ${token()}` } });
      if (r.status === 404) {
        await r.body?.cancel();
        return null;
      }
      if (r.status !== 200) throw new Error(`blob ${hash}: ${r.status} ${await r.text()}`);
      return new Uint8Array(await r.arrayBuffer());
    },
  };
  return source;
}

/** Control-plane verification keys from the public trust bundle (`jwt-svid` keys), by kid. */
export function bundleKeys(w: StartedWorker): VerificationKeyLookup {
  return async (kid) => {
    const bundle = (await (await w.fetch("/.well-known/spiffe-bundle")).json()) as { keys: (JWK & { use?: string })[] };
    const jwk = bundle.keys.find((k) => k.use === "jwt-svid" && k.kid === kid);
    return jwk === undefined ? undefined : ((await importJWK(jwk, "ES256")) as CryptoKey);
  };
}

/** A reader of `target` over the control API. */
export function snapshotReader<S extends Snapshot>(w: StartedWorker, target: string, token: () => string, type: S["type"]): SnapshotReader<S> {
  return new SnapshotReader<S>({ source: httpSnapshotSource(w, token), target, keys: bundleKeys(w), type });
}
