/**
 * The proxy's ONE snapshot reader module: a `SnapshotSource` over the control API's
 * long-poll (`GET /v1/snapshots/nodes/<cluster>/<node>` with `If-None-Match` and
 * `?wait=`, the node's JWT-SVID as bearer) and the content-addressed blobs a manifest names
 * (`GET /v1/snapshots/blobs/<sha256>`). It only fetches; verification (signature, blob
 * hashes) is the core `SnapshotReader`'s job.
 */
import { NOT_MODIFIED, type HeadOptions, type SignedHead, type SnapshotSource } from "../../core/snapshot/snapshot-reader.ts";
import { snapshotTarget } from "../../core/snapshot/snapshot-model.ts";
import type { ControlApi } from "../identity/control-api.ts";

export class HttpSnapshotSource implements SnapshotSource {
  readonly target: string;

  constructor(
    private readonly api: ControlApi,
    private readonly node: { cluster: string; node: string },
  ) {
    this.target = snapshotTarget(node);
  }

  async head(target: string, options: HeadOptions = {}): Promise<SignedHead | null | typeof NOT_MODIFIED> {
    if (target !== this.target) throw new TypeError(`this source serves ${this.target}, not ${target}`);
    const answer = await this.api.snapshotHead(this.node.cluster, this.node.node, {
      ...(options.knownVersion === undefined ? {} : { knownVersion: options.knownVersion }),
      ...(options.waitSeconds === undefined ? {} : { waitSeconds: options.waitSeconds }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    if (answer === "not-modified") return NOT_MODIFIED;
    return answer;
  }

  blob(hash: string): Promise<Uint8Array | null> {
    return this.api.snapshotBlob(hash);
  }
}
