import { Hono } from "hono";
import { systemClock } from "../../core/clock.ts";
import { ForbiddenError, ValidationError } from "../../core/errors.ts";
import { parseCsr } from "../../identity/csr.ts";
import { SpiffeId } from "../../identity/spiffe-id.ts";
import type { ControlApp } from "../types.ts";
import { auditInsert } from "../audit.ts";
import { actorOf, requireNode } from "../auth.ts";
import { readJsonBody } from "../body.ts";
import { database } from "../db.ts";
import { attestNode, type AttestationRequest } from "./attestation.ts";
import { loadAuthority } from "./authority.ts";
import { arrayAt, atField, objectAt, stringAt } from "./fields.ts";
import { workloadSpiffeIdAt } from "./identity-fields.ts";
import { issueNodeCredentials, recordIssued, signX509Svid, x509SvidView } from "./issuer.ts";
import { recordRenewal } from "./nodes.ts";
import { issueRenewalNonce, verifyRenewalProof } from "./renewal.ts";
import { registeredTo } from "./registrations.ts";
import { trustDomainOf } from "./settings.ts";

/** Routes node proxies call: attestation, renewal, workload SVIDs. */
export const nodeRoutes = new Hono<ControlApp>();

const MAX_TOKEN_CHARS = 8192;
const MAX_SVID_REQUESTS = 32;

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

/** Step 1 of renewal: a single-use nonce the node signs with its current X.509-SVID key (see renewal-proof.ts). */
nodeRoutes.post("/v1/identity/renew/nonce", async (c) => {
  const node = requireNode(c);
  const issued = await issueRenewalNonce(database(c.env), node.spiffeId, systemClock.now());
  return c.json({ nonce: issued.nonce, expiresAt: new Date(issued.expiresAt).toISOString(), spiffeId: node.spiffeId }, 201);
});

/**
 * Step 2: `{csr, nonce, certificate, signature}`. The JWT-SVID alone is not
 * enough: the node proves possession of its current X.509-SVID's key.
 */
nodeRoutes.post("/v1/identity/renew", async (c) => {
  const node = requireNode(c);
  const o = objectAt(await readJsonBody(c), "body", ["csr", "nonce", "certificate", "signature"]);
  const proof = {
    csr: stringAt(o, "csr"),
    nonce: stringAt(o, "nonce", "nonce", 128),
    certificate: stringAt(o, "certificate", "certificate", 16 * 1024),
    signature: stringAt(o, "signature", "signature", 1024),
  };
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
    auditInsert(db, { actor: actorOf(node), action: "identity.renew", target: node.spiffeId, outcome: "success", detail: { serial: issued.svid.serial, previousSerial: previous.serial } }, now),
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
