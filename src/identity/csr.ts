/**
 * PKCS#10 certificate signing requests, as the issuer accepts them.
 *
 * Only the CSR's public key is used. The identity always comes from the caller
 * (attestation or registration), never from the CSR (checklist item 35); a CSR
 * that names a different identity, or more than one, is refused rather than
 * silently overridden so a confused client finds out.
 */
import { AsnConvert, type IAsnParseOptions } from "@peculiar/asn1-schema";
import { ECDSASigValue, ECParameters, id_ecPublicKey, id_secp256r1 } from "@peculiar/asn1-ecc";
import { CertificationRequest } from "@peculiar/asn1-csr";
import { AlgorithmIdentifier, Extensions, SubjectAlternativeName, SubjectPublicKeyInfo, id_ce_subjectAltName } from "@peculiar/asn1-x509";
import { CsrError, CsrIdentityMismatchError, CsrSignatureError, UnsupportedKeyError } from "./errors.ts";
import type { SpiffeId } from "./spiffe-id.ts";
import { PEM_CERTIFICATE_REQUEST, decodeSinglePem, describeKeyAlgorithm, x509 } from "./x509.ts";

/** PKCS#9 extensionRequest (RFC 2985). */
const EXTENSION_REQUEST = "1.2.840.113549.1.9.14";

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
  /** SHA-1 of `subjectPublicKey` (RFC 5280 §4.2.1.2 method 1), the leaf's subjectKeyIdentifier. */
  subjectKeyIdentifier?: Uint8Array;
}

const FIELD = "csr";
/** `openssl req` and most tools write "CERTIFICATE REQUEST"; some older ones "NEW CERTIFICATE REQUEST". */
const CSR_LABELS = [PEM_CERTIFICATE_REQUEST, "NEW CERTIFICATE REQUEST"] as const;
export const MIN_RSA_BITS = 2048;

/**
 * asn1js's default also tries to decode the contents of every OCTET and BIT STRING as
 * nested BER and keeps the result only for its own use; the schema parser reads those
 * strings as bytes either way, so skipping that speculative pass changes no result.
 */
const PARSE_OPTIONS: IAsnParseOptions = { berOptions: { parseEmbedded: false } };

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
  let asn: CertificationRequest;
  try {
    asn = AsnConvert.parse(der, CertificationRequest, PARSE_OPTIONS);
  } catch (cause) {
    throw notPkcs10(cause);
  }
  // The common case (a P-256 key, ECDSA with SHA-2) is checked on the ASN.1 parsed once
  // above; every other key or algorithm takes the general path through @peculiar/x509.
  const p256 = p256Request(asn);
  const parsed = p256 === undefined ? await generalPossession(der) : await p256Possession(asn, p256);
  checkIdentity(parsed.requestedUris, expected);
  return parsed;
}

function notPkcs10(cause: unknown): CsrError {
  return new CsrError(`${FIELD}: not a DER PKCS#10 certificate request`, { field: FIELD, cause });
}

function possessionFailed(cause?: unknown): CsrSignatureError {
  return cause === undefined
    ? new CsrSignatureError(`${FIELD}: signature does not verify (proof of possession failed)`, { field: FIELD })
    : new CsrSignatureError(`${FIELD}: signature cannot be verified (proof of possession failed)`, { field: FIELD, cause });
}

function checkIdentity(uris: readonly string[], expected: SpiffeId): void {
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
}

/** namedCurve prime256v1, as the library encodes it (DER has exactly one encoding of it). */
const P256_PARAMETERS = new Uint8Array(AsnConvert.serialize(new ECParameters({ namedCurve: id_secp256r1 })));
/** A P-256 SubjectPublicKeyInfo up to its 65-byte point, encoded once by the library. */
const P256_SPKI_PREFIX = (() => {
  const spki = new Uint8Array(
    AsnConvert.serialize(
      new SubjectPublicKeyInfo({
        algorithm: new AlgorithmIdentifier({ algorithm: id_ecPublicKey, parameters: P256_PARAMETERS.slice().buffer }),
        subjectPublicKey: new Uint8Array(65).buffer,
      }),
    ),
  );
  return spki.slice(0, spki.length - 65);
})();
const ECDSA_SIGNATURE_HASHES: Readonly<Record<string, string>> = { "1.2.840.10045.4.3.2": "SHA-256", "1.2.840.10045.4.3.3": "SHA-384", "1.2.840.10045.4.3.4": "SHA-512" };
const P256 = { name: "ECDSA", namedCurve: "P-256" } as const;

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The key point and signature hash of a P-256 CSR signed with ECDSA and SHA-2, else undefined. */
function p256Request(asn: CertificationRequest): { point: Uint8Array<ArrayBuffer>; hash: string } | undefined {
  const info = asn.certificationRequestInfo.subjectPKInfo;
  const params = info.algorithm.parameters;
  const hash = ECDSA_SIGNATURE_HASHES[asn.signatureAlgorithm.algorithm];
  if (info.algorithm.algorithm !== id_ecPublicKey || hash === undefined || params === null || params === undefined) return undefined;
  if (!sameBytes(ArrayBuffer.isView(params) ? new Uint8Array(params.buffer, params.byteOffset, params.byteLength) : new Uint8Array(params), P256_PARAMETERS)) return undefined;
  const point = new Uint8Array(info.subjectPublicKey);
  // An uncompressed point; anything else (compressed, hybrid, malformed) takes the general path.
  if (point.length !== 65 || point[0] !== 4) return undefined;
  return { point, hash };
}

/** Left-pads (or refuses) one ECDSA-Sig-Value integer to 32 bytes. */
function coordinate(v: ArrayBuffer): Uint8Array | undefined {
  let b = new Uint8Array(v);
  while (b.length > 32 && b[0] === 0) b = b.subarray(1);
  if (b.length > 32) return undefined;
  const out = new Uint8Array(32);
  out.set(b, 32 - b.length);
  return out;
}

/** The DER ECDSA-Sig-Value as WebCrypto's r || s, or undefined if it cannot be one for P-256. */
function p1363Signature(signature: ArrayBuffer): Uint8Array<ArrayBuffer> | undefined {
  const sig = AsnConvert.parse(signature, ECDSASigValue, PARSE_OPTIONS);
  const r = coordinate(sig.r);
  const s = coordinate(sig.s);
  if (r === undefined || s === undefined) return undefined;
  const out = new Uint8Array(64);
  out.set(r);
  out.set(s, 32);
  return out;
}

/**
 * P-256 proof of possession: the key is imported once from its raw point and the
 * signature checked on the CertificationRequestInfo bytes already parsed. The key
 * identifier digest and the signature check run in WebCrypto while the requested
 * names are read; errors keep their order (signature first, then the names).
 */
async function p256Possession(asn: CertificationRequest, request: { point: Uint8Array<ArrayBuffer>; hash: string }): Promise<ParsedCsr> {
  const { point, hash } = request;
  const tbs = asn.certificationRequestInfoRaw;
  if (tbs === undefined) throw notPkcs10(new Error("certificationRequestInfo has no encoding"));
  const keyIdentifier = crypto.subtle.digest("SHA-1", point);
  keyIdentifier.catch(() => undefined); // awaited below; a failure surfaces there
  let publicKey: CryptoKey;
  try {
    publicKey = await crypto.subtle.importKey("raw", point, P256, true, ["verify"]);
  } catch (cause) {
    throw new UnsupportedKeyError(`${FIELD}: key ECDSA P-256 cannot be imported`, { field: FIELD, cause });
  }
  let signature: Uint8Array<ArrayBuffer> | undefined;
  try {
    signature = p1363Signature(asn.signature);
  } catch (cause) {
    throw possessionFailed(cause);
  }
  if (signature === undefined) throw possessionFailed();
  const verified = crypto.subtle.verify({ name: "ECDSA", hash }, publicKey, signature, tbs);
  verified.catch(() => undefined); // awaited below
  let names: RequestedNames | undefined;
  let namesError: unknown;
  try {
    names = requestedNames(asn);
  } catch (err) {
    namesError = err;
  }
  let possession: boolean;
  try {
    possession = await verified;
  } catch (cause) {
    throw possessionFailed(cause);
  }
  if (!possession) throw possessionFailed();
  if (names === undefined) throw namesError;
  const spki = new Uint8Array(P256_SPKI_PREFIX.length + point.length);
  spki.set(P256_SPKI_PREFIX);
  spki.set(point, P256_SPKI_PREFIX.length);
  return {
    publicKey,
    keyAlgorithm: "ECDSA P-256",
    requestedUris: names.uris,
    requestedDnsNames: names.dnsNames,
    spki,
    subjectPublicKey: point,
    subjectKeyIdentifier: new Uint8Array(await keyIdentifier),
  };
}

/** Any other key or signature algorithm: the @peculiar/x509 request object decides. */
async function generalPossession(der: ArrayBuffer): Promise<ParsedCsr> {
  let csr: x509.Pkcs10CertificateRequest;
  let spki: x509.PublicKey;
  try {
    csr = new x509.Pkcs10CertificateRequest(der);
    spki = csr.publicKey;
  } catch (cause) {
    throw notPkcs10(cause);
  }
  const keyAlgorithm = describeKeyAlgorithm(spki);
  const publicKey = await importSupportedKey(spki, keyAlgorithm);
  checkSignatureHash(csr);
  let possession: boolean;
  try {
    possession = await csr.verify();
  } catch (cause) {
    throw possessionFailed(cause);
  }
  if (!possession) throw possessionFailed();
  // The ASN.1 the library already parsed (a protected member in its typings).
  const { uris, dnsNames } = requestedNames((csr as unknown as { asn: CertificationRequest }).asn);
  return { publicKey, keyAlgorithm, requestedUris: uris, requestedDnsNames: dnsNames };
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

interface RequestedNames {
  uris: string[];
  dnsNames: string[];
}

/**
 * URI and DNS names from the CSR's extensionRequest subjectAltName(s), each
 * extension's value parsed once with the asn1-x509 schema (other name types are
 * ignored, as before).
 */
function requestedNames(asn: CertificationRequest): RequestedNames {
  const uris: string[] = [];
  const dnsNames: string[] = [];
  let sans: SubjectAlternativeName[];
  try {
    sans = [];
    for (const attribute of asn.certificationRequestInfo.attributes) {
      if (attribute.type !== EXTENSION_REQUEST) continue;
      for (const value of attribute.values) {
        for (const ext of AsnConvert.parse(value, Extensions, PARSE_OPTIONS)) {
          if (ext.extnID === id_ce_subjectAltName) sans.push(parseSan(ext.extnValue));
        }
      }
    }
  } catch (cause) {
    if (cause instanceof CsrError) throw cause;
    throw new CsrError(`${FIELD}: extensionRequest is malformed`, { field: FIELD, cause });
  }
  for (const san of sans) {
    for (const name of san) {
      if (name.uniformResourceIdentifier !== undefined) uris.push(name.uniformResourceIdentifier);
      else if (name.dNSName !== undefined) dnsNames.push(name.dNSName);
    }
  }
  return { uris, dnsNames };
}

function parseSan(extnValue: BufferSource): SubjectAlternativeName {
  try {
    return AsnConvert.parse(extnValue, SubjectAlternativeName, PARSE_OPTIONS);
  } catch (cause) {
    throw new CsrError(`${FIELD}: subjectAltName is malformed or has an unsupported name type`, { field: FIELD, cause });
  }
}
