/**
 * PKCS#10 certificate signing requests, as the issuer accepts them.
 *
 * Only the CSR's public key is used. The identity always comes from the caller
 * (attestation or registration), never from the CSR (checklist item 35); a CSR
 * that names a different identity, or more than one, is refused rather than
 * silently overridden so a confused client finds out.
 */
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
  const publicKey = await importSupportedKey(spki, keyAlgorithm);

  checkSignatureHash(csr);
  let possession: boolean;
  try {
    possession = await csr.verify();
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

/** URI and DNS names from the CSR's extensionRequest subjectAltName(s). */
function requestedNames(csr: x509.Pkcs10CertificateRequest): { uris: string[]; dnsNames: string[] } {
  const uris: string[] = [];
  const dnsNames: string[] = [];
  let extensions: x509.Extension[];
  try {
    extensions = csr.getExtensions("2.5.29.17");
  } catch (cause) {
    throw new CsrError(`${FIELD}: extensionRequest is malformed`, { field: FIELD, cause });
  }
  for (const ext of extensions) {
    let san: x509.SubjectAlternativeNameExtension;
    try {
      san = new x509.SubjectAlternativeNameExtension(ext.rawData);
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
