import { ValidationError } from "../../core/errors.ts";
import { SpiffeId, parseNodeId } from "../../identity/spiffe-id.ts";
import { atFieldSync } from "./fields.ts";

/** A SPIFFE ID from the request, parsed and checked to be in our trust domain. */
function ownSpiffeId(value: string, field: string, trustDomain: string): SpiffeId {
  const id = atFieldSync(field, () => SpiffeId.parse(value));
  if (!id.isMemberOf(trustDomain)) throw new ValidationError(`${field}: ${id.toString()} is not in trust domain ${trustDomain}`, { field });
  return id;
}

/** A workload identity: ours, with a path, and not a node ID. */
export function workloadSpiffeIdAt(value: string, field: string, trustDomain: string): SpiffeId {
  const id = ownSpiffeId(value, field, trustDomain);
  if (id.path === "") throw new ValidationError(`${field}: an X.509-SVID needs a SPIFFE ID with a path, got ${id.toString()}`, { field });
  if (parseNodeId(id) !== undefined) throw new ValidationError(`${field}: ${id.toString()} is a node identity, not a workload identity`, { field });
  return id;
}

/** A node identity, spiffe://<td>/node/<cluster>/<node>. */
export function nodeSpiffeIdAt(value: string, field: string, trustDomain: string): { id: SpiffeId; cluster: string; node: string } {
  const id = ownSpiffeId(value, field, trustDomain);
  const parts = parseNodeId(id);
  if (parts === undefined) throw new ValidationError(`${field}: must be a node SPIFFE ID spiffe://${trustDomain}/node/<cluster>/<node>, got ${id.toString()}`, { field });
  return { id, ...parts };
}
