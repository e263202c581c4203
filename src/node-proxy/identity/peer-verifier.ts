/**
 * The X.509-SVID verifier applied to every chain a peer presents (spiffe-checklist section D).
 *
 * TLS runs with OpenSSL's own chain check off, because OpenSSL would pool every root
 * it is given (item 61), ignore URI SANs (item 59) and read the system clock; this
 * module is the gate instead: it picks the bundle by the leaf's trust domain, builds
 * the path to one of that trust domain's roots at the injected clock's time, and
 * checks every SPIFFE rule. TLS itself has already proven possession of the leaf's key.
 *
 * @example
 * const peer = await verifyPeerChain({ chainDer, anchors, now: clock.now(), peerRole: "client", isRevoked });
 * peer.spiffeId; // "spiffe://strait.local/ns/shop/sa/web"
 */
import { SpiffeId } from "../../identity/spiffe-id.ts";
import { parseCertificateDer, x509 } from "../../identity/x509.ts";
import type { PeerIdentity } from "../context.ts";
import { PeerVerificationError } from "./errors.ts";

/** Trust anchors by trust domain. Never pooled: a leaf only chains to its own trust domain's roots (item 51). */
export type TrustAnchors = ReadonlyMap<string, readonly x509.X509Certificate[]>;

export interface VerifyPeerOptions {
  /** The peer's chain as presented, leaf first; later entries are intermediates only (item 52). */
  chainDer: readonly ArrayBuffer[];
  anchors: TrustAnchors;
  /** Epoch ms (the injected clock). */
  now: number;
  /** The role the peer plays: a TLS client must have clientAuth, a server serverAuth, when the leaf has an EKU (item 57). */
  peerRole: "client" | "server";
  isRevoked?: (spiffeId: string) => boolean;
  /** When set, the peer must present exactly this SPIFFE ID (item 58). */
  expected?: string;
}

const OID_BASIC_CONSTRAINTS = "2.5.29.19";
const OID_KEY_USAGE = "2.5.29.15";
const OID_EXT_KEY_USAGE = "2.5.29.37";
const OID_SUBJECT_ALT_NAME = "2.5.29.17";
const OID_SUBJECT_KEY_ID = "2.5.29.14";
const OID_AUTHORITY_KEY_ID = "2.5.29.35";
const OID_CLIENT_AUTH = "1.3.6.1.5.5.7.3.2";
const OID_SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
/** Extensions this verifier processes; any other critical one fails the chain (item 55). Name constraints are not processed, so a critical one fails too. */
const PROCESSED = new Set([OID_BASIC_CONSTRAINTS, OID_KEY_USAGE, OID_EXT_KEY_USAGE, OID_SUBJECT_ALT_NAME, OID_SUBJECT_KEY_ID, OID_AUTHORITY_KEY_ID]);
/** Longest path accepted (leaf + intermediates), a bound against hostile chains. */
const MAX_PATH = 6;

function refuse(reason: ConstructorParameters<typeof PeerVerificationError>[0], message: string, cause?: unknown): never {
  throw new PeerVerificationError(reason, message, cause === undefined ? undefined : { cause });
}

function parse(der: ArrayBuffer, what: string): x509.X509Certificate {
  try {
    return parseCertificateDer(der, what);
  } catch (cause) {
    return refuse("malformed", `${what} is not a DER X.509 certificate`, cause);
  }
}

function checkCriticalExtensions(cert: x509.X509Certificate, what: string): void {
  for (const ext of cert.extensions) {
    if (ext.critical && !PROCESSED.has(ext.type)) refuse("unknown-critical-extension", `${what} has an unprocessed critical extension ${ext.type}`);
  }
}

function checkValidity(cert: x509.X509Certificate, now: number, what: string): void {
  if (now < cert.notBefore.getTime()) refuse("not-yet-valid", `${what} is not valid before ${cert.notBefore.toISOString()}`);
  if (now > cert.notAfter.getTime()) refuse("expired", `${what} expired at ${cert.notAfter.toISOString()}`);
}

/** The leaf's SPIFFE ID under items 45-47. */
function leafSpiffeId(leaf: x509.X509Certificate): SpiffeId {
  const san = leaf.getExtension(x509.SubjectAlternativeNameExtension);
  const uris = (san?.names.items ?? []).filter((n) => n.type === "url");
  if (uris.length !== 1) refuse("uri-san-count", `the leaf has ${uris.length} URI SANs; an X.509-SVID has exactly one`);
  let id: SpiffeId;
  try {
    id = SpiffeId.parse((uris[0] as { value: string }).value);
  } catch (cause) {
    return refuse("invalid-spiffe-id", "the leaf's URI SAN is not a valid SPIFFE ID", cause);
  }
  if (id.path === "") refuse("invalid-spiffe-id", `the leaf's SPIFFE ID ${id.toString()} has no path`);
  return id;
}

function checkLeafUsage(leaf: x509.X509Certificate, peerRole: "client" | "server"): void {
  const bc = leaf.getExtension(x509.BasicConstraintsExtension);
  if (bc?.ca === true) refuse("leaf-is-ca", "the leaf has cA=true");
  const ku = leaf.getExtension(x509.KeyUsagesExtension);
  if (ku === null) refuse("key-usage", "the leaf has no key usage (digitalSignature is required)");
  if ((ku.usages & x509.KeyUsageFlags.digitalSignature) === 0) refuse("key-usage", "the leaf's key usage lacks digitalSignature");
  if ((ku.usages & (x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign)) !== 0) refuse("key-usage", "the leaf's key usage has keyCertSign or cRLSign");
  const eku = leaf.getExtension(x509.ExtendedKeyUsageExtension);
  if (eku !== null) {
    const needed = peerRole === "client" ? OID_CLIENT_AUTH : OID_SERVER_AUTH;
    if (!eku.usages.map(String).includes(needed)) refuse("extended-key-usage", `the leaf's extended key usage lacks ${peerRole === "client" ? "clientAuth" : "serverAuth"}`);
  }
}

function checkIntermediate(cert: x509.X509Certificate, below: number, what: string): void {
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  if (bc?.ca !== true) refuse("bad-intermediate", `${what} is not a CA (cA=false)`);
  const ku = cert.getExtension(x509.KeyUsagesExtension);
  if (ku !== null && (ku.usages & x509.KeyUsageFlags.keyCertSign) === 0) refuse("bad-intermediate", `${what} lacks keyCertSign`);
  // `below`: CA certificates between this one and the leaf (RFC 5280 §4.2.1.9).
  if (bc.pathLength !== undefined && below > bc.pathLength) refuse("bad-intermediate", `${what} has pathLen ${bc.pathLength} but ${below} CA certificates follow it`);
}

async function signedBy(cert: x509.X509Certificate, issuer: x509.X509Certificate): Promise<boolean> {
  if (cert.issuer !== issuer.subject) return false;
  try {
    return await cert.verify({ publicKey: issuer.publicKey, signatureOnly: true });
  } catch {
    return false;
  }
}

/**
 * Verifies a presented chain as an X.509-SVID of the trust domain its leaf names.
 * @throws PeerVerificationError with the reason.
 */
export async function verifyPeerChain(o: VerifyPeerOptions): Promise<PeerIdentity> {
  if (o.chainDer.length === 0) refuse("no-certificate", "the peer presented no certificate");
  if (o.chainDer.length > MAX_PATH) refuse("untrusted-chain", `the peer presented ${o.chainDer.length} certificates (at most ${MAX_PATH})`);
  const leaf = parse(o.chainDer[0] as ArrayBuffer, "the leaf");
  const id = leafSpiffeId(leaf);
  checkLeafUsage(leaf, o.peerRole);
  checkCriticalExtensions(leaf, "the leaf");
  const roots = o.anchors.get(id.trustDomain) ?? [];
  if (roots.length === 0) refuse("untrusted-trust-domain", `no trust bundle for trust domain ${id.trustDomain}`);
  checkValidity(leaf, o.now, "the leaf");

  const presented = o.chainDer.slice(1).map((der, i) => parse(der, `chain[${i + 1}]`));
  let current = leaf;
  let intermediates = 0;
  for (;;) {
    // A root of this trust domain that signed `current` ends the path (anchors are trusted as given, but must be in their validity window).
    for (const root of roots) {
      if (await signedBy(current, root)) {
        checkValidity(root, o.now, "the trust anchor");
        return finish(id, o);
      }
    }
    if (intermediates >= MAX_PATH - 1) refuse("untrusted-chain", "no path to a trust anchor within the length limit");
    let next: x509.X509Certificate | undefined;
    for (const candidate of presented) {
      if (candidate !== current && (await signedBy(current, candidate))) {
        next = candidate;
        break;
      }
    }
    if (next === undefined) refuse("untrusted-chain", `the chain does not lead to a root of trust domain ${id.trustDomain}`);
    const what = `intermediate ${next.subject}`;
    checkIntermediate(next, intermediates, what);
    checkCriticalExtensions(next, what);
    checkValidity(next, o.now, what);
    intermediates += 1;
    current = next;
  }
}

function finish(id: SpiffeId, o: VerifyPeerOptions): PeerIdentity {
  const spiffeId = id.toString();
  if (o.isRevoked?.(spiffeId) === true) refuse("revoked", `${spiffeId} is revoked`);
  if (o.expected !== undefined && o.expected !== spiffeId) refuse("unexpected-identity", `expected ${o.expected}, the peer presented ${spiffeId}`);
  return { spiffeId, trustDomain: id.trustDomain };
}

/** Parses PEM trust anchors for one trust domain into the verifier's form. */
export function anchorsFromPem(trustDomain: string, pem: string): TrustAnchors {
  const certs = x509.PemConverter.decode(pem).map((der) => new x509.X509Certificate(der));
  return new Map([[trustDomain, certs]]);
}
