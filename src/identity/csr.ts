/**
 * PKCS#10 certificate signing requests, as the issuer accepts them.
 *
 * Only the CSR's public key is used. The identity always comes from the caller
 * (attestation or registration), never from the CSR (checklist item 35); a CSR
 * that names a different identity, or more than one, is refused rather than
 * silently overridden so a confused client finds out.
 */
import { AsnConvert } from "@peculiar/asn1-schema";
import { ECDSASigValue, ECParameters, id_ecPublicKey, id_secp256r1 } from "@peculiar/asn1-ecc";
import type { CertificationRequest } from "@peculiar/asn1-csr";
import { Extensions } from "@peculiar/asn1-x509";

/** PKCS#9 extensionRequest (RFC 2985). */
const EXTENSION_REQUEST = "1.2.840.113549.1.9.14";
import { CsrError, CsrIdentityMismatchError, CsrSignatureError, UnsupportedKeyError } from "./errors.ts";
import type { SpiffeId } from "./spiffe-id.ts";
import { PEM_CERTIFICATE_REQUEST, decodeSinglePem, describeKeyAlgorithm, x509 } from "./x509.ts";

/** A CSR that passed proof of possession and the key policy. */
export interface ParsedCsr {
  publicKey: CryptoKey;
  /** "ECDSA P-256" or "RSA <bits>". */
  keyAlgorithm: string;
  requestedUris: string[];
  requestedDnsNames: string[];
  /** DER SubjectPublicKeyInfo (canonical for P-256) and its key bits, so the issuer never re-exports the key. */
  spki?: Uint8Array;
  subjectPublicKey?: Uint8Array<ArrayBuffer>;
}

const FIELD = "csr";
/** `openssl req` and most tools write "CERTIFICATE REQUEST"; some older ones "NEW CERTIFICATE REQUEST". */
const CSR_LABELS = [PEM_CERTIFICATE_REQUEST, "NEW CERTIFICATE REQUEST"] as const;
export const MIN_RSA_BITS = 2048;

/**
 * Parses and checks a PEM PKCS#10 CSR for issuing `expected`.
 *
 * @throws PemError if it is not a single CSR PEM block;
 *   CsrError if the DER is malformed;
 *   UnsupportedKeyError unless the key is ECDSA P-256 or RSA >= 2048 bits;
 *   CsrSignatureError if the CSR's signature (proof of possession) fails;
 *   CsrIdentityMismatchError if it asks for more than one URI SAN or a URI other than `expected`.
 */
export async function parseCsr(pem: string, expected: SpiffeId): Promise<ParsedCsr> {
  const der = decodeSinglePem(pem, CSR_LABELS, FIELD);
  let csr: x509.Pkcs10CertificateRequest;
  let spki: x509.PublicKey;
  try {
    csr = new x509.Pkcs10CertificateRequest(der);
    spki = csr.publicKey;
  } catch (cause) {
    throw new CsrError(`${FIELD}: not a DER PKCS#10 certificate request`, { field: FIELD, cause });
  }

  const keyAlgorithm = describeKeyAlgorithm(spki);
  // The common case (P-256, uncompressed point, ECDSA signature): the key is imported once
  // from its raw point and the signature checked with it; anything else takes the general path.
  const fast = await p256Possession(csr);
  const publicKey = fast?.publicKey ?? (await importSupportedKey(spki, keyAlgorithm));

  checkSignatureHash(csr);
  let possession: boolean;
  try {
    possession = fast !== undefined ? await fast.verify() : await csr.verify();
  } catch (cause) {
    throw new CsrSignatureError(`${FIELD}: signature cannot be verified (proof of possession failed)`, { field: FIELD, cause });
  }
  if (!possession) throw new CsrSignatureError(`${FIELD}: signature does not verify (proof of possession failed)`, { field: FIELD });

  const { uris, dnsNames } = requestedNames(csr);
  if (uris.length > 1) {
    throw new CsrIdentityMismatchError(`${FIELD}: subjectAltName has ${uris.length} URIs; an X.509-SVID has exactly one`, {
      field: FIELD,
    });
  }
  const [uri] = uris;
  if (uri !== undefined && uri !== expected.toString()) {
    throw new CsrIdentityMismatchError(`${FIELD}: subjectAltName URI ${uri} does not match the identity being issued, ${expected.toString()}`, {
      field: FIELD,
    });
  }
  const parsed: ParsedCsr = { publicKey, keyAlgorithm, requestedUris: uris, requestedDnsNames: dnsNames };
  if (fast !== undefined) {
    parsed.spki = fast.spki;
    parsed.subjectPublicKey = fast.point;
  }
  return parsed;
}

/** DER prefix of a P-256 SubjectPublicKeyInfo (id-ecPublicKey, prime256v1) up to the 65-byte point. */
const P256_SPKI_PREFIX = Uint8Array.of(0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00);
const ECDSA_SIGNATURE_HASHES: Record<string, string> = { "1.2.840.10045.4.3.2": "SHA-256", "1.2.840.10045.4.3.3": "SHA-384", "1.2.840.10045.4.3.4": "SHA-512" };

/** Left-pads (or refuses) one ECDSA-Sig-Value integer to 32 bytes. */
function coordinate(v: ArrayBuffer): Uint8Array | undefined {
  let b = new Uint8Array(v);
  while (b.length > 32 && b[0] === 0) b = b.subarray(1);
  if (b.length > 32) return undefined;
  const out = new Uint8Array(32);
  out.set(b, 32 - b.length);
  return out;
}

/** For a P-256 CSR signed with ECDSA: the key imported once from its point, and a verifier using it. */
async function p256Possession(request: x509.Pkcs10CertificateRequest): Promise<{ publicKey: CryptoKey; spki: Uint8Array; point: Uint8Array<ArrayBuffer>; verify(): Promise<boolean> } | undefined> {
  // The ASN.1 the library already parsed (a protected member in its typings): reading it
  // here avoids parsing the untrusted DER a second time.
  const asn = (request as unknown as { asn: CertificationRequest }).asn;
  const tbs = asn.certificationRequestInfoRaw;
  if (tbs === undefined) return undefined;
  const info = asn.certificationRequestInfo.subjectPKInfo;
  const params = info.algorithm.parameters;
  if (info.algorithm.algorithm !== id_ecPublicKey || params === null || params === undefined) return undefined;
  let curve: string | undefined;
  try {
    curve = AsnConvert.parse(params, ECParameters).namedCurve;
  } catch {
    return undefined;
  }
  const point = new Uint8Array(info.subjectPublicKey);
  const hash = ECDSA_SIGNATURE_HASHES[asn.signatureAlgorithm.algorithm];
  if (curve !== id_secp256r1 || point.length !== 65 || point[0] !== 4 || hash === undefined) return undefined;
  let publicKey: CryptoKey;
  try {
    publicKey = await crypto.subtle.importKey("raw", point, { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
  } catch (cause) {
    throw new UnsupportedKeyError(`${FIELD}: key ECDSA P-256 cannot be imported`, { field: FIELD, cause });
  }
  const spki = new Uint8Array(P256_SPKI_PREFIX.length + 65);
  spki.set(P256_SPKI_PREFIX);
  spki.set(point, P256_SPKI_PREFIX.length);
  return {
    publicKey,
    spki,
    point,
    async verify() {
      const sig = AsnConvert.parse(asn.signature, ECDSASigValue);
      const r = coordinate(sig.r);
      const s = coordinate(sig.s);
      if (r === undefined || s === undefined) return false;
      const p1363 = new Uint8Array(64);
      p1363.set(r);
      p1363.set(s, 32);
      return crypto.subtle.verify({ name: "ECDSA", hash }, publicKey, p1363, tbs);
    },
  };
}

const ACCEPTED_HASHES = new Set(["SHA-256", "SHA-384", "SHA-512"]);

/** Refuses SHA-1, MD5 and unknown signature algorithms before any crypto, as Go's CheckSignature does. */
function checkSignatureHash(csr: x509.Pkcs10CertificateRequest): void {
  let hash: string | undefined;
  let name: string;
  try {
    const alg = csr.signatureAlgorithm as Algorithm & { hash?: { name?: string } };
    name = alg.name;
    hash = alg.hash?.name;
  } catch {
    name = "unknown";
  }
  if (hash === undefined || !ACCEPTED_HASHES.has(hash)) {
    throw new CsrSignatureError(`${FIELD}: signature algorithm ${hash === undefined ? name : `${name} with ${hash}`} is not accepted; sign with SHA-256, SHA-384 or SHA-512`, {
      field: FIELD,
    });
  }
}

/** Imports the CSR's key if policy allows it: ECDSA P-256, or RSA of at least 2048 bits. */
async function importSupportedKey(spki: x509.PublicKey, keyAlgorithm: string): Promise<CryptoKey> {
  const alg = safeAlgorithm(spki);
  const supported =
    (alg?.name === "ECDSA" && alg.namedCurve === "P-256") ||
    (alg?.modulusLength !== undefined && alg.name.startsWith("RSA") && alg.modulusLength >= MIN_RSA_BITS);
  if (!supported) {
    throw new UnsupportedKeyError(`${FIELD}: key ${keyAlgorithm} is not supported; use ECDSA P-256 or RSA >= ${MIN_RSA_BITS} bits`, {
      field: FIELD,
    });
  }
  try {
    return await spki.export();
  } catch (cause) {
    throw new UnsupportedKeyError(`${FIELD}: key ${keyAlgorithm} cannot be imported`, { field: FIELD, cause });
  }
}

function safeAlgorithm(spki: x509.PublicKey): (Algorithm & { namedCurve?: string; modulusLength?: number }) | undefined {
  try {
    return spki.algorithm;
  } catch {
    return undefined;
  }
}

/** URI and DNS names from the CSR's extensionRequest subjectAltName(s). */
function requestedNames(csr: x509.Pkcs10CertificateRequest): { uris: string[]; dnsNames: string[] } {
  const uris: string[] = [];
  const dnsNames: string[] = [];
  // The subjectAltName extensions of the extensionRequest attribute, read from the ASN.1 the
  // library already parsed (its getExtensions() re-serializes and re-parses every attribute).
  let extensions: ArrayBuffer[];
  try {
    const asn = (csr as unknown as { asn: CertificationRequest }).asn;
    extensions = asn.certificationRequestInfo.attributes
      .filter((a) => a.type === EXTENSION_REQUEST)
      .flatMap((a) => a.values.flatMap((v) => [...AsnConvert.parse(v, Extensions)]))
      .filter((e) => e.extnID === "2.5.29.17")
      .map((e) => AsnConvert.serialize(e));
  } catch (cause) {
    throw new CsrError(`${FIELD}: extensionRequest is malformed`, { field: FIELD, cause });
  }
  for (const raw of extensions) {
    let san: x509.SubjectAlternativeNameExtension;
    try {
      san = new x509.SubjectAlternativeNameExtension(raw);
    } catch (cause) {
      throw new CsrError(`${FIELD}: subjectAltName is malformed or has an unsupported name type`, { field: FIELD, cause });
    }
    for (const name of san.names.items) {
      if (name.type === "url") uris.push(name.value);
      else if (name.type === "dns") dnsNames.push(name.value);
    }
  }
  return { uris, dnsNames };
}
