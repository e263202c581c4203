import { Hono, type Context } from "hono";
import { systemClock } from "../../core/clock.ts";
import { ForbiddenError, UnauthenticatedError, ValidationError } from "../../core/errors.ts";
import { parseCsr } from "../../identity/csr.ts";
import { SpiffeId } from "../../identity/spiffe-id.ts";
import type { ControlApp } from "../types.ts";
import { auditInsert } from "../audit.ts";
import { actorOf, requireNode } from "../auth.ts";
import { readJsonBody } from "../body.ts";
import { database } from "../db.ts";
import { attestNode, type AttestationRequest } from "./attestation.ts";
import { loadAuthority } from "./authority.ts";
import { arrayAt, atField, atFieldSync, objectAt, stringAt } from "./fields.ts";
import { workloadSpiffeIdAt } from "./identity-fields.ts";
import { issueNodeCredentials, recordIssued, signX509Svid, x509SvidView } from "./issuer.ts";
import { recordRenewal } from "./nodes.ts";
import { certificateNode, issueRenewalNonce, refuseNonceFlood, verifyCurrentCertificate, verifyRenewalProof } from "./renewal.ts";
import { registeredTo } from "./registrations.ts";
import { trustDomainOf } from "./settings.ts";

/** Routes node proxies call: attestation, renewal, workload SVIDs. */
export const nodeRoutes = new Hono<ControlApp>();

const MAX_TOKEN_CHARS = 8192;
const MAX_SVID_REQUESTS = 32;
const MAX_CERTIFICATE_CHARS = 16 * 1024;

function attestationRequest(body: unknown): AttestationRequest {
  const o = objectAt(body, "body", ["csr", "joinToken", "k8s"]);
  const csr = stringAt(o, "csr");
  const hasJoin = o["joinToken"] !== undefined;
  const hasK8s = o["k8s"] !== undefined;
  if (hasJoin === hasK8s) throw new ValidationError("joinToken: give exactly one of joinToken or k8s", { field: hasJoin ? "k8s" : "joinToken" });
  if (hasJoin) return { csr, joinToken: stringAt(o, "joinToken", "joinToken", MAX_TOKEN_CHARS) };
  const k8s = objectAt(o["k8s"], "k8s", ["cluster", "token"]);
  return { csr, k8s: { cluster: stringAt(k8s, "cluster", "k8s.cluster", 253), token: stringAt(k8s, "token", "k8s.token", MAX_TOKEN_CHARS) } };
}

nodeRoutes.post("/v1/identity/attest", async (c) => {
  const req = attestationRequest(await readJsonBody(c));
  return c.json(await attestNode(c.env, database(c.env), req, systemClock));
});

/**
 * Who is renewing. With a JWT-SVID: that node (its body is the proof). Without one
 * (the JWT-SVID expired during an outage, SPIRE-style renewal by the X.509-SVID alone):
 * the node the body's `certificate` names — the proof that follows decides.
 */
function renewingNode(c: Context<ControlApp>, certificate: string | undefined): { spiffeId: string; actor: string; proof: "jwt-svid+x509-pop" | "x509-pop" } {
  if (c.get("principal") !== undefined || certificate === undefined) {
    const node = requireNode(c);
    return { spiffeId: node.spiffeId, actor: actorOf(node), proof: "jwt-svid+x509-pop" };
  }
  const trustDomain = trustDomainOf(c.env);
  const { spiffeId } = atFieldSync("certificate", () => certificateNode(certificate, trustDomain));
  return { spiffeId, actor: `node:${spiffeId}`, proof: "x509-pop" };
}

const NO_CREDENTIAL = 'authentication required: send Authorization: Bearer <node JWT-SVID>, or the body {"certificate": "<PEM of the node\'s current X.509-SVID>"}';

/** `{certificate}` of an anonymous nonce request (no body: 401, as before these routes took certificates). */
async function anonymousCertificate(c: Context<ControlApp>): Promise<string> {
  if (c.req.raw.body === null || c.req.header("content-length") === "0") throw new UnauthenticatedError(NO_CREDENTIAL, { field: "certificate" });
  const o = objectAt(await readJsonBody(c), "body", ["certificate"]);
  return stringAt(o, "certificate", "certificate", MAX_CERTIFICATE_CHARS);
}

/**
 * Step 1 of renewal: a single-use nonce (60 s, bound to the node) the node signs with its
 * current X.509-SVID key (see renewal-proof.ts). Authenticated by the node's JWT-SVID (no
 * body), or — without Authorization — by `{"certificate": "<PEM>"}`, the node's current
 * X.509-SVID (chain, validity, current serial, not revoked checked here; possession of its
 * key in step 2).
 */
nodeRoutes.post("/v1/identity/renew/nonce", async (c) => {
  const db = database(c.env);
  let spiffeId: string;
  if (c.get("principal") === undefined) {
    const certificate = await anonymousCertificate(c);
    spiffeId = renewingNode(c, certificate).spiffeId;
    const authority = await loadAuthority(c.env, systemClock);
    await verifyCurrentCertificate(db, authority, spiffeId, certificate, systemClock);
    await refuseNonceFlood(db, spiffeId, systemClock.now());
  } else {
    spiffeId = requireNode(c).spiffeId;
  }
  const issued = await issueRenewalNonce(db, spiffeId, systemClock.now());
  return c.json({ nonce: issued.nonce, expiresAt: new Date(issued.expiresAt).toISOString(), spiffeId }, 201);
});

/**
 * Step 2: `{csr, nonce, certificate, signature}`. The JWT-SVID alone is never enough: the
 * node proves possession of its current X.509-SVID's key. Without a JWT-SVID that proof
 * alone renews (the node is the one the certificate names; the nonce must be its own).
 */
nodeRoutes.post("/v1/identity/renew", async (c) => {
  if (c.get("principal") !== undefined) requireNode(c);
  else if (c.req.raw.body === null || c.req.header("content-length") === "0") throw new UnauthenticatedError(NO_CREDENTIAL, { field: "certificate" });
  const o = objectAt(await readJsonBody(c), "body", ["csr", "nonce", "certificate", "signature"]);
  const proof = {
    csr: stringAt(o, "csr"),
    nonce: stringAt(o, "nonce", "nonce", 128),
    certificate: stringAt(o, "certificate", "certificate", MAX_CERTIFICATE_CHARS),
    signature: stringAt(o, "signature", "signature", 1024),
  };
  const node = renewingNode(c, proof.certificate);
  const id = SpiffeId.parse(node.spiffeId);
  const csr = await atField("csr", () => parseCsr(proof.csr, id));
  const db = database(c.env);
  const authority = await loadAuthority(c.env, systemClock);
  const previous = await atField("certificate", () => verifyRenewalProof(db, authority, node.spiffeId, proof, systemClock));
  const issued = await issueNodeCredentials(c.env, db, authority, csr, id, systemClock);
  const now = systemClock.now();
  await db.batch([
    recordRenewal(db, node.spiffeId, issued.svid.serial, now),
    ...issued.statements,
    auditInsert(db, { actor: node.actor, action: "identity.renew", target: node.spiffeId, outcome: "success", detail: { serial: issued.svid.serial, previousSerial: previous.serial, proof: node.proof } }, now),
  ]);
  return c.json(issued.credentials);
});

nodeRoutes.post("/v1/identity/svids", async (c) => {
  const node = requireNode(c);
  const trustDomain = trustDomainOf(c.env);
  const items = arrayAt(objectAt(await readJsonBody(c), "body", ["requests"]), "requests", { min: 1, max: MAX_SVID_REQUESTS });
  const requests = items.map((item, i) => {
    const o = objectAt(item, `requests[${i}]`, ["spiffeId", "csr"]);
    const spiffeIdField = `requests[${i}].spiffeId`;
    return { id: workloadSpiffeIdAt(stringAt(o, "spiffeId", spiffeIdField), spiffeIdField, trustDomain), csrPem: stringAt(o, "csr", `requests[${i}].csr`), index: i };
  });
  const db = database(c.env);
  const registered = await registeredTo(db, node.spiffeId, requests.map((r) => r.id.toString()));
  const refused = requests.find((r) => !registered.has(r.id.toString()));
  if (refused !== undefined) {
    throw new ForbiddenError(`requests[${refused.index}].spiffeId: ${refused.id.toString()} is not registered to node ${node.spiffeId}`, { field: `requests[${refused.index}].spiffeId` });
  }
  const parsed = await Promise.all(requests.map(async (r) => ({ ...r, csr: await atField(`requests[${r.index}].csr`, () => parseCsr(r.csrPem, r.id)) })));
  const authority = await loadAuthority(c.env, systemClock);
  const svids = await Promise.all(parsed.map((r) => signX509Svid(c.env, authority, r.csr, r.id, systemClock)));
  const now = systemClock.now();
  await db.batch([
    auditInsert(db, { actor: actorOf(node), action: "identity.svids", target: node.spiffeId, outcome: "success", detail: { issued: svids.map((s) => ({ spiffeId: s.spiffeId, serial: s.serial })) } }, now),
    ...svids.flatMap((s) => recordIssued(db, authority, s, node.spiffeId, now)),
  ]);
  return c.json({ svids: svids.map(x509SvidView) });
});
