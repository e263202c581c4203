import type { Clock } from "../../core/clock.ts";
import { StraitError } from "../../core/errors.ts";
import { AttestationError, RevokedError } from "../../identity/errors.ts";
import { parseCsr, type ParsedCsr } from "../../identity/csr.ts";
import { nodeId, type SpiffeId } from "../../identity/spiffe-id.ts";
import { verifyProjectedServiceAccountToken } from "../../identity/k8s-psat.ts";
import { auditInsert } from "../audit.ts";
import type { Database } from "../db.ts";
import type { ControlEnv } from "../env.ts";
import { loadAuthority } from "./authority.ts";
import { atField } from "./fields.ts";
import { issueNodeCredentials, type NodeCredentials } from "./issuer.ts";
import { consumeJoinToken, findJoinToken } from "./join-tokens.ts";
import { isRevoked, upsertAttestedNode } from "./nodes.ts";
import { jwtSvidTtlSeconds, k8sClustersOf, trustDomainOf, x509SvidTtlSeconds } from "./settings.ts";

/** The two ways a node proves who it is. */
export type AttestationRequest = { csr: string; joinToken: string } | { csr: string; k8s: { cluster: string; token: string } };

/** The same words as SPIRE, and the same answer for unknown and replayed tokens. */
const TOKEN_UNUSABLE = "joinToken: join token does not exist or has already been used";
const TOKEN_EXPIRED = "joinToken: join token expired";

interface Attested {
  id: SpiffeId;
  cluster: string;
  node: string;
  type: "join_token" | "k8s_psat";
  detail: Record<string, unknown>;
}

async function refuseIfRevoked(db: Database, id: SpiffeId): Promise<void> {
  if (await isRevoked(db, id.toString())) throw new RevokedError(`node ${id.toString()} has been revoked and cannot attest again`);
}

/**
 * Attests a node and issues its credentials.
 *
 * Join token: the CSR is checked before the token is consumed, so a malformed
 * request leaves the token usable; after that the token is consumed (even if it
 * turns out expired, as SPIRE does) by one atomic compare-and-set.
 * Kubernetes PSAT: verified offline against the cluster's JWKS; not one-time.
 */
export async function attestNode(env: ControlEnv, db: Database, req: AttestationRequest, clock: Clock): Promise<NodeCredentials> {
  const trustDomain = trustDomainOf(env);
  // Operator settings are checked before a join token is spent, so a misconfiguration (503) costs the node nothing.
  x509SvidTtlSeconds(env);
  jwtSvidTtlSeconds(env);
  const authority = await loadAuthority(env, clock);
  let attested: Attested;
  let csr: ParsedCsr;
  if ("joinToken" in req) {
    const row = await findJoinToken(db, req.joinToken);
    if (row === undefined || row.usedAt !== null) throw new AttestationError(TOKEN_UNUSABLE, { field: "joinToken" });
    const id = nodeId(trustDomain, row.cluster, row.node);
    // A revoked node is refused before its token is spent, so the refusal writes nothing.
    await refuseIfRevoked(db, id);
    csr = await atField("csr", () => parseCsr(req.csr, id));
    if (!(await consumeJoinToken(db, row.tokenHash, clock.now()))) throw new AttestationError(TOKEN_UNUSABLE, { field: "joinToken" });
    if (row.expiresAt <= clock.now()) throw new AttestationError(TOKEN_EXPIRED, { field: "joinToken" });
    attested = { id, cluster: row.cluster, node: row.node, type: "join_token", detail: { tokenCreatedBy: row.createdBy } };
  } else {
    const clusters = k8sClustersOf(env);
    if (!Object.hasOwn(clusters, req.k8s.cluster)) {
      throw new AttestationError(`k8s.cluster: cluster ${JSON.stringify(req.k8s.cluster)} is not configured in K8S_CLUSTERS`, { field: "k8s.cluster" });
    }
    const psat = await verifyProjectedServiceAccountToken(req.k8s.token, req.k8s.cluster, clusters, clock).catch((err: unknown) => {
      if (err instanceof AttestationError) throw new AttestationError(`k8s.token: ${err.message}`, { field: "k8s.token", cause: err });
      throw err;
    });
    let id: SpiffeId;
    try {
      id = nodeId(trustDomain, psat.cluster, psat.nodeName);
    } catch (err) {
      throw new AttestationError(`k8s.token: node name ${JSON.stringify(psat.nodeName)} cannot form a SPIFFE ID (${err instanceof StraitError ? err.message : String(err)})`, { field: "k8s.token" });
    }
    csr = await atField("csr", () => parseCsr(req.csr, id));
    attested = {
      id,
      cluster: psat.cluster,
      node: psat.nodeName,
      type: "k8s_psat",
      detail: { namespace: psat.namespace, serviceAccount: psat.serviceAccount, podName: psat.podName, podUid: psat.podUid },
    };
  }
  const spiffeId = attested.id.toString();
  if (attested.type === "k8s_psat") await refuseIfRevoked(db, attested.id);
  const now = clock.now();
  const issued = await issueNodeCredentials(env, db, authority, csr, attested.id, clock);
  await db.batch([
    upsertAttestedNode(db, { spiffeId, cluster: attested.cluster, node: attested.node, attestationType: attested.type, serial: issued.svid.serial }, now),
    ...issued.statements,
    auditInsert(db, { actor: `node:${spiffeId}`, action: "identity.attest", target: spiffeId, outcome: "success", detail: { type: attested.type, serial: issued.svid.serial, ...attested.detail } }, now),
  ]);
  return issued.credentials;
}
