/**
 * Strait's X.509 certificate authorities: a self-signed ECDSA P-256 root and an
 * intermediate signing CA under it (SPIFFE checklist section C, items 37-44).
 *
 * Both carry cA=true and a critical keyUsage of keyCertSign+cRLSign with no
 * digitalSignature (item 39: SPIRE's CertSign|CRLSign), a URI SAN naming the trust
 * domain with no path (item 40), a Subject Key Identifier, and no EKU (item 42).
 */
import type { Clock } from "../core/clock.ts";
import { CaUnavailableError, PemError } from "./errors.ts";
import { SpiffeId, parseTrustDomain } from "./spiffe-id.ts";
import {
  backdatedNotBefore,
  ECDSA_P256,
  ECDSA_SHA256,
  encodePem,
  exportPrivateKeyPem,
  importP256PrivateKeyPem,
  parseCertificatePem,
  randomSerialHex,
  secondsPrecision,
  x509,
} from "./x509.ts";

/** A CA certificate and its key, both PEM. The key is PKCS#8 ("PRIVATE KEY"), ECDSA P-256. */
export interface CaKeyPair {
  certificatePem: string;
  privateKeyPem: string;
}

/** A loaded CA, ready to sign. */
export interface SigningCa {
  certificatePem: string;
  certificate: x509.X509Certificate;
  privateKey: CryptoKey;
  notBefore: Date;
  notAfter: Date;
}

const DAY_SECONDS = 86_400;
/** Istio's self-signed root lifetime (CITADEL_SELF_SIGNED_CA_CERT_TTL). */
export const DEFAULT_ROOT_TTL_SECONDS = 3650 * DAY_SECONDS;
export const DEFAULT_INTERMEDIATE_TTL_SECONDS = 365 * DAY_SECONDS;

const CA_KEY_USAGE = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign;

function checkTtl(ttlSeconds: number, what: string): number {
  if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1) {
    throw new TypeError(`${what} ttlSeconds must be a positive integer, got ${String(ttlSeconds)}`);
  }
  return ttlSeconds;
}

async function generateCaKeys(): Promise<CryptoKeyPair> {
  return (await crypto.subtle.generateKey(ECDSA_P256, true, ["sign", "verify"])) as CryptoKeyPair;
}

/** The extensions every Strait CA certificate carries. */
async function caExtensions(publicKey: CryptoKey, trustDomain: string, pathLength: number | undefined): Promise<x509.Extension[]> {
  return [
    new x509.BasicConstraintsExtension(true, pathLength, true),
    new x509.KeyUsagesExtension(CA_KEY_USAGE, true),
    await x509.SubjectKeyIdentifierExtension.create(publicKey),
    // The Subject is non-empty, so the SAN need not be critical (RFC 5280 §4.2.1.6).
    new x509.SubjectAlternativeNameExtension([{ type: "url", value: SpiffeId.fromPath(trustDomain, "").toString() }], false),
  ];
}

/**
 * Creates a self-signed root CA for `trustDomain` (default lifetime 10 years).
 * @example const root = await createRootCa({ trustDomain: "strait.local", clock: systemClock });
 */
export async function createRootCa(o: { trustDomain: string; clock: Clock; ttlSeconds?: number }): Promise<CaKeyPair> {
  const trustDomain = parseTrustDomain(o.trustDomain);
  const ttl = checkTtl(o.ttlSeconds ?? DEFAULT_ROOT_TTL_SECONDS, "root CA");
  const now = secondsPrecision(o.clock.now());
  const keys = await generateCaKeys();
  const name = `O=Strait, CN=Strait Root CA ${trustDomain}`;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject: name,
    issuer: name,
    notBefore: backdatedNotBefore(now),
    notAfter: new Date(now + ttl * 1000),
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    signingAlgorithm: ECDSA_SHA256,
    extensions: await caExtensions(keys.publicKey, trustDomain, undefined),
  });
  return { certificatePem: encodePem(cert.rawData, "CERTIFICATE"), privateKeyPem: await exportPrivateKeyPem(keys.privateKey) };
}

/**
 * Creates an intermediate signing CA (pathLen 0) signed by `root`. Default
 * lifetime one year; never outlives the root.
 * @throws CaUnavailableError / PemError if `root` is not a usable CA.
 */
export async function createIntermediateCa(
  root: CaKeyPair,
  o: { trustDomain: string; clock: Clock; ttlSeconds?: number },
): Promise<CaKeyPair> {
  const trustDomain = parseTrustDomain(o.trustDomain);
  const ttl = checkTtl(o.ttlSeconds ?? DEFAULT_INTERMEDIATE_TTL_SECONDS, "intermediate CA");
  const parent = await loadSigningCa(root);
  const parentDomain = caTrustDomain(parent.certificate);
  if (parentDomain !== undefined && parentDomain !== trustDomain) {
    throw new TypeError(`root CA belongs to trust domain ${parentDomain}, not ${trustDomain}`);
  }
  const now = secondsPrecision(o.clock.now());
  if (now >= parent.notAfter.getTime()) throw new CaUnavailableError("root CA has expired");
  const notAfter = Math.min(now + ttl * 1000, parent.notAfter.getTime());
  const keys = await generateCaKeys();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerialHex(),
    subject: `O=Strait, CN=Strait Intermediate CA ${trustDomain}`,
    issuer: parent.certificate.subjectName,
    notBefore: new Date(Math.max(backdatedNotBefore(now).getTime(), parent.notBefore.getTime())),
    notAfter: new Date(notAfter),
    publicKey: keys.publicKey,
    signingKey: parent.privateKey,
    signingAlgorithm: ECDSA_SHA256,
    extensions: [
      ...(await caExtensions(keys.publicKey, trustDomain, 0)),
      await authorityKeyIdentifier(parent.certificate),
    ],
  });
  return { certificatePem: encodePem(cert.rawData, "CERTIFICATE"), privateKeyPem: await exportPrivateKeyPem(keys.privateKey) };
}

/**
 * An AKI naming the issuer's SKI (item 34: set explicitly, as SPIRE does), or a
 * key identifier computed from its public key when the issuer has no SKI.
 */
export async function authorityKeyIdentifier(issuer: x509.X509Certificate): Promise<x509.AuthorityKeyIdentifierExtension> {
  const ski = issuer.getExtension(x509.SubjectKeyIdentifierExtension);
  if (ski !== null) return new x509.AuthorityKeyIdentifierExtension(ski.keyId, false);
  return x509.AuthorityKeyIdentifierExtension.create(issuer.publicKey, false);
}

/** The trust domain named by a CA's `spiffe://<td>` URI SAN, if it has exactly one valid one. */
export function caTrustDomain(cert: x509.X509Certificate): string | undefined {
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const uris = san?.names.items.filter((n) => n.type === "url").map((n) => n.value) ?? [];
  if (uris.length !== 1) return undefined;
  try {
    return SpiffeId.parse(uris[0] as string).trustDomain;
  } catch {
    return undefined;
  }
}

/**
 * Loads a CA key pair for signing. Checks that the certificate is a CA with
 * keyCertSign, that its key is ECDSA P-256, and that the private key matches it.
 * @throws PemError if either PEM is malformed; CaUnavailableError if the pair is not a usable CA.
 */
export async function loadSigningCa(pair: CaKeyPair): Promise<SigningCa> {
  const certificate = parseCertificatePem(pair.certificatePem, "certificatePem");
  const privateKey = await importP256PrivateKeyPem(pair.privateKeyPem, "privateKeyPem");
  const bc = certificate.getExtension(x509.BasicConstraintsExtension);
  if (bc === null || !bc.ca) throw new CaUnavailableError("CA certificate does not have basicConstraints cA=true");
  const ku = certificate.getExtension(x509.KeyUsagesExtension);
  if (ku === null || (ku.usages & x509.KeyUsageFlags.keyCertSign) === 0) {
    throw new CaUnavailableError("CA certificate keyUsage does not include keyCertSign");
  }
  checkCaUriSans(certificate);
  const alg = certificate.publicKey.algorithm as { name: string; namedCurve?: string };
  if (alg.name !== "ECDSA" || alg.namedCurve !== "P-256") {
    throw new CaUnavailableError("CA certificate key is not ECDSA P-256");
  }
  // Proof that the private key belongs to the certificate: sign a challenge and
  // verify it with the certificate's public key (works for non-extractable keys).
  const challenge = crypto.getRandomValues(new Uint8Array(32));
  const signature = await crypto.subtle.sign(ECDSA_SHA256, privateKey, challenge);
  let publicKey: CryptoKey;
  try {
    publicKey = await certificate.publicKey.export(ECDSA_P256, ["verify"]);
  } catch (cause) {
    throw new PemError("certificatePem: the certificate's public key is not a valid P-256 key", { field: "certificatePem", cause });
  }
  if (!(await crypto.subtle.verify(ECDSA_SHA256, publicKey, signature, challenge))) {
    throw new CaUnavailableError("CA private key does not match the CA certificate");
  }
  return {
    certificatePem: encodePem(certificate.rawData, "CERTIFICATE"),
    certificate,
    privateKey,
    notBefore: certificate.notBefore,
    notAfter: certificate.notAfter,
  };
}

/**
 * Item 40: a URI SAN on a signing certificate is optional, but a SPIFFE one must
 * name a trust domain only (no path). Other URI schemes are left alone.
 */
function checkCaUriSans(certificate: x509.X509Certificate): void {
  const san = certificate.getExtension(x509.SubjectAlternativeNameExtension);
  for (const name of san?.names.items ?? []) {
    if (name.type !== "url" || !name.value.toLowerCase().startsWith("spiffe:")) continue;
    let id: SpiffeId | undefined;
    try {
      id = SpiffeId.parse(name.value);
    } catch {
      id = undefined;
    }
    if (id === undefined || id.path !== "") {
      throw new CaUnavailableError(`CA certificate URI SAN ${name.value} must be a SPIFFE ID with no path (spiffe://<trust-domain>)`);
    }
  }
}

/**
 * True when `childPem`'s issuer is `parentPem`'s subject and its signature
 * verifies with the parent's public key. Validity dates are not checked.
 * @throws PemError if either is not a single certificate PEM.
 */
export async function verifyIssuedBy(childPem: string, parentPem: string): Promise<boolean> {
  const child = parseCertificatePem(childPem, "childPem");
  const parent = parseCertificatePem(parentPem, "parentPem");
  if (!sameBytes(child.issuerName.toArrayBuffer(), parent.subjectName.toArrayBuffer())) return false;
  try {
    return await child.verify({ publicKey: parent.publicKey, signatureOnly: true });
  } catch {
    return false;
  }
}

function sameBytes(a: ArrayBuffer, b: ArrayBuffer): boolean {
  if (a.byteLength !== b.byteLength) return false;
  const x = new Uint8Array(a);
  const y = new Uint8Array(b);
  return x.every((v, i) => v === y[i]);
}
