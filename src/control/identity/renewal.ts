import { and, count, eq, gt, isNotNull, isNull, lt, or } from "drizzle-orm";
import { attestedNodes, renewalNonces, revocations } from "../../../schema/index.ts";
import type { Clock } from "../../core/clock.ts";
import { ConflictError } from "../../core/errors.ts";
import { RenewalProofError, RevokedError } from "../../identity/errors.ts";
import { verifyRenewalSignature } from "../../identity/renewal-proof.ts";
import { SpiffeId, parseNodeId } from "../../identity/spiffe-id.ts";
import { PEM_CERTIFICATE, decodePem, parseCertificateDer, toHex, x509 } from "../../identity/x509.ts";
import type { Database } from "../db.ts";
import { authorityViews, type Authority } from "./authority.ts";

/** How long a renewal nonce can be spent. */
export const RENEWAL_NONCE_TTL_SECONDS = 60;
const NONCE_BYTES = 32;
const NONCE = /^[A-Za-z0-9_-]{43}$/;

async function nonceHash(nonce: string): Promise<string> {
  return toHex(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(nonce)));
}

function base64url(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/**
 * A fresh single-use nonce for `node`, valid RENEWAL_NONCE_TTL_SECONDS. Only its
 * SHA-256 is stored; spent and expired nonces are deleted as new ones are made.
 */
export async function issueRenewalNonce(db: Database, node: string, now: number): Promise<{ nonce: string; expiresAt: number }> {
  const nonce = base64url(crypto.getRandomValues(new Uint8Array(NONCE_BYTES)));
  const expiresAt = now + RENEWAL_NONCE_TTL_SECONDS * 1000;
  await db.batch([
    db.delete(renewalNonces).where(or(lt(renewalNonces.expiresAt, now), and(eq(renewalNonces.spiffeId, node), isNotNull(renewalNonces.usedAt)))),
    db.insert(renewalNonces).values({ nonceHash: await nonceHash(nonce), spiffeId: node, createdAt: now, expiresAt }),
  ]);
  return { nonce, expiresAt };
}

/** What a renewal request carries besides the CSR. */
export interface RenewalProof {
  csr: string;
  nonce: string;
  /** PEM of the node's current X.509-SVID (a chain is accepted; its first certificate is the leaf). */
  certificate: string;
  signature: string;
}

function leafOf(pem: string): x509.X509Certificate {
  const blocks = decodePem(pem, "certificate").filter((b) => b.label === PEM_CERTIFICATE);
  const [leaf] = blocks;
  if (leaf === undefined) throw new RenewalProofError("certificate: no CERTIFICATE PEM block found", { field: "certificate" });
  return parseCertificateDer(leaf.der, "certificate");
}

function sameBytes(a: ArrayBuffer, b: ArrayBuffer): boolean {
  if (a.byteLength !== b.byteLength) return false;
  const x = new Uint8Array(a);
  const y = new Uint8Array(b);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/** The leaf's one URI SAN, if it is a valid SPIFFE ID. */
function spiffeIdOf(cert: x509.X509Certificate): string | undefined {
  const uris = (cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.items ?? []).filter((n) => n.type === "url");
  if (uris.length !== 1) return undefined;
  try {
    return SpiffeId.parse((uris[0] as { value: string }).value).toString();
  } catch {
    return undefined;
  }
}

/** Live (unexpired, unspent) nonces one node may hold from the certificate-authenticated nonce route. */
export const MAX_OUTSTANDING_NONCES = 16;

/**
 * The node a presented X.509-SVID claims to be (its one URI SAN), for requests that come
 * without a JWT-SVID. Only says who to check; {@link verifyCurrentCertificate} decides.
 * @throws RenewalProofError (401, field `certificate`) when it is not a node ID of `trustDomain`.
 */
export function certificateNode(pem: string, trustDomain: string): { spiffeId: string; cluster: string; node: string } {
  const id = spiffeIdOf(leafOf(pem));
  const parsed = id === undefined ? undefined : SpiffeId.parse(id);
  const node = parsed !== undefined && parsed.isMemberOf(trustDomain) ? parseNodeId(parsed) : undefined;
  if (parsed === undefined || node === undefined) {
    throw new RenewalProofError(`certificate: its one URI SAN must be a node SPIFFE ID of trust domain ${trustDomain} (spiffe://${trustDomain}/node/<cluster>/<node>)`, {
      field: "certificate",
    });
  }
  return { spiffeId: parsed.toString(), ...node };
}

/**
 * Checks that `pem` (leaf first) is `node`'s CURRENT X.509-SVID: issued (signature verified)
 * by a CA generation in the current bundle, valid now, whose one URI SAN is `node`, and whose
 * serial is the node's current one (the last credentials attest or renew returned), and that
 * the node is not revoked. Proves nothing about possession of the key: the caller checks a
 * signature with the returned leaf.
 * @throws RenewalProofError (401) or RevokedError (403), field `certificate`.
 */
export async function verifyCurrentCertificate(db: Database, authority: Authority, node: string, pem: string, clock: Clock): Promise<{ leaf: x509.X509Certificate; serial: string }> {
  const leaf = leafOf(pem);
  const now = clock.now();
  if (spiffeIdOf(leaf) !== node) throw new RenewalProofError(`certificate: is not an X.509-SVID for ${node}`, { field: "certificate" });
  if (leaf.notBefore.getTime() > now || leaf.notAfter.getTime() <= now) {
    throw new RenewalProofError(`certificate: not valid now (valid ${leaf.notBefore.toISOString()} to ${leaf.notAfter.toISOString()}); attest again`, { field: "certificate" });
  }
  const issuerName = leaf.issuerName.toArrayBuffer();
  let chained = false;
  for (const { certificate } of authorityViews(authority, now).intermediates) {
    if (!sameBytes(issuerName, certificate.subjectName.toArrayBuffer())) continue;
    if (certificate.notAfter.getTime() <= now) continue;
    if (await leaf.verify({ publicKey: certificate.publicKey, signatureOnly: true }).catch(() => false)) {
      chained = true;
      break;
    }
  }
  if (!chained) throw new RenewalProofError("certificate: not issued by a CA in the current trust bundle", { field: "certificate" });
  const serial = leaf.serialNumber.toLowerCase();
  const [[row], [revoked]] = await Promise.all([
    db.select({ currentSerial: attestedNodes.currentSerial }).from(attestedNodes).where(eq(attestedNodes.spiffeId, node)),
    db.select({ spiffeId: revocations.spiffeId }).from(revocations).where(eq(revocations.spiffeId, node)),
  ]);
  if (revoked !== undefined) throw new RevokedError(`certificate: node ${node} has been revoked`, { field: "certificate" });
  if (row === undefined) {
    // Evicted (or never attested): renewal cannot bring it back, only a new attestation.
    throw new RenewalProofError(`certificate: node ${node} is not attested (evicted?); attest again`, { field: "certificate" });
  }
  if (row.currentSerial === null || row.currentSerial.toLowerCase() !== serial) {
    throw new RenewalProofError(`certificate: serial ${serial} is not the node's current X.509-SVID; renew with the latest certificate or attest again`, { field: "certificate" });
  }
  return { leaf, serial };
}

/**
 * Refuses a new nonce when `node` already holds MAX_OUTSTANDING_NONCES live ones, so a
 * caller that merely saw the node's certificate cannot fill the table.
 * @throws ConflictError (409, field `certificate`).
 */
export async function refuseNonceFlood(db: Database, node: string, now: number): Promise<void> {
  const [row] = await db
    .select({ live: count() })
    .from(renewalNonces)
    .where(and(eq(renewalNonces.spiffeId, node), isNull(renewalNonces.usedAt), gt(renewalNonces.expiresAt, now)));
  if ((row?.live ?? 0) >= MAX_OUTSTANDING_NONCES) {
    throw new ConflictError(`certificate: ${MAX_OUTSTANDING_NONCES} renewal nonces of ${node} are already unspent; spend one or retry after ${RENEWAL_NONCE_TTL_SECONDS} s`, {
      field: "certificate",
    });
  }
}

/**
 * Checks a renewal's proof of possession for `node` (authenticated by its JWT-SVID, or
 * named by the certificate itself when the request carries no JWT-SVID):
 * 1. `certificate` is the node's current X.509-SVID ({@link verifyCurrentCertificate});
 * 2. `signature` verifies with its key over the renewal message (renewal-proof.ts);
 * 3. `nonce` was issued to `node`, is unexpired and unused, and is spent now
 *    (one atomic UPDATE, so a replay or a concurrent second use fails).
 * @throws RenewalProofError (401) naming the field at fault; RevokedError (403).
 */
export async function verifyRenewalProof(db: Database, authority: Authority, node: string, proof: RenewalProof, clock: Clock): Promise<{ serial: string }> {
  if (!NONCE.test(proof.nonce)) throw new RenewalProofError("nonce: not a nonce from POST /v1/identity/renew/nonce", { field: "nonce" });
  const { leaf, serial } = await verifyCurrentCertificate(db, authority, node, proof.certificate, clock);
  const now = clock.now();
  await verifyRenewalSignature(leaf, proof.signature, { nonce: proof.nonce, spiffeId: node, csr: proof.csr });
  const spent = await db
    .update(renewalNonces)
    .set({ usedAt: now })
    .where(and(eq(renewalNonces.nonceHash, await nonceHash(proof.nonce)), eq(renewalNonces.spiffeId, node), isNull(renewalNonces.usedAt), gt(renewalNonces.expiresAt, now)));
  if (spent.meta.changes !== 1) {
    throw new RenewalProofError("nonce: unknown, expired, already used or issued to another node; get a new one from POST /v1/identity/renew/nonce", { field: "nonce" });
  }
  return { serial };
}
