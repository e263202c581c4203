/**
 * Snapshot source for the Deno gateway: the control API's long-poll
 * (`GET /v1/snapshots/gateway` with `If-None-Match: "<version>"` and `?wait=`), authenticated
 * with an API token that may read snapshots, and the content-addressed blobs a signed manifest
 * names (`GET /v1/snapshots/blobs/<sha256>`). What it returns is verified by the core reader.
 */
import { NOT_MODIFIED, type SignedHead, type SnapshotSource } from "../../../core/snapshot/snapshot-reader.ts";

export interface ControlApiSourceOptions {
  /** Control API base URL, e.g. `https://control.example.com`. */
  baseUrl: string;
  /** Bearer token with read access to snapshots. */
  token: string;
  fetch?: (input: Request) => Promise<Response>;
}

export function controlApiSnapshotSource(o: ControlApiSourceOptions): SnapshotSource {
  const base = o.baseUrl.replace(/\/+$/, "");
  const doFetch = o.fetch ?? ((r: Request) => fetch(r));
  return {
    async head(target, options = {}) {
      if (target !== "gateway") throw new TypeError(`the gateway reads the gateway snapshot, not ${target}`);
      const wait = options.knownVersion === undefined ? 0 : (options.waitSeconds ?? 0);
      const headers: Record<string, string> = { authorization: `Bearer ${o.token}` };
      if (options.knownVersion !== undefined) headers["if-none-match"] = `"${options.knownVersion}"`;
      const res = await doFetch(new Request(`${base}/v1/snapshots/gateway${wait > 0 ? `?wait=${wait}` : ""}`, { headers, ...(options.signal === undefined ? {} : { signal: options.signal }) }));
      if (res.status === 304) {
        await res.body?.cancel();
        return NOT_MODIFIED;
      }
      if (res.status === 404) {
        await res.body?.cancel();
        return null;
      }
      if (!res.ok) throw new Error(`control API answered ${res.status} for the gateway snapshot: ${(await res.text()).slice(0, 200)}`);
      const body = (await res.json()) as Partial<SignedHead>;
      if (typeof body.version !== "number" || typeof body.jws !== "string") throw new Error("control API: the gateway snapshot head lacks version/jws");
      return { version: body.version, jws: body.jws, ...(typeof body.hash === "string" ? { hash: body.hash } : {}), ...(typeof body.revision === "number" ? { revision: body.revision } : {}) };
    },
    async blob(hash) {
      if (!/^[0-9a-f]{64}$/.test(hash)) throw new Error(`not a SHA-256 blob name: ${hash.slice(0, 80)}`);
      const res = await doFetch(new Request(`${base}/v1/snapshots/blobs/${hash}`, { headers: { authorization: `Bearer ${o.token}` } }));
      if (res.status === 404) {
        await res.body?.cancel();
        return null;
      }
      if (!res.ok) throw new Error(`control API answered ${res.status} for blob ${hash}`);
      return new Uint8Array(await res.arrayBuffer());
    },
  };
}
