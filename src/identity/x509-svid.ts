/**
 * X.509-SVIDs (X509-SVID.md): issuing a leaf from a checked CSR, and reading
 * certificates back for `strait svid inspect`.
 *
 * The leaf profile (checklist section B): exactly one URI SAN, the SPIFFE ID;
 * empty Subject with a critical SAN; critical basicConstraints cA=false;
 * critical keyUsage digitalSignature (+keyEncipherment for RSA keys only), never
 * keyCertSign/cRLSign; EKU serverAuth+clientAuth; a random positive 16-octet
 * serial; SKI and AKI; notBefore backdated 30 s and notAfter clamped to the
 * signing CA's notAfter. The signature is ecdsa-with-SHA256 in DER
 * ECDSA-Sig-Value form (item 36), which @peculiar/x509 produces from WebCrypto's
 * raw r||s.
 */
import { AsnConvert } from "@peculiar/asn1-schema";
import { SubjectPublicKeyInfo } from "@peculiar/asn1-x509";
import type { Clock } from "../core/clock.ts";
import { keyIdentifier, leafTemplate, signLeaf } from "./leaf-certificate.ts";
import { authorityKeyIdentifier, caTrustDomain, type SigningCa } from "./ca.ts";
import type { ParsedCsr } from "./csr.ts";
import { CaUnavailableError, PemError } from "./errors.ts";
import { SpiffeId } from "./spiffe-id.ts";
import {
  ECDSA_SHA256,
  PEM_CERTIFICATE,
  backdatedNotBefore,
  decodePem,
  describeKeyAlgorithm,
  encodePem,
  parseCertificateDer,
  randomSerialHex,
  secondsPrecision,
  toHex,
  x509,
} from "./x509.ts";

/** An issued X.509-SVID. */
export interface IssuedX509Svid {
  spiffeId: string;
  certificatePem: string;
  /** Leaf then intermediate, PEM, concatenated. */
  chainPem: string;
  /** Lowercase hex. */
  serial: string;
  notBefore: Date;
  notAfter: Date;
}

/** Longest X.509-SVID lifetime the issuer signs: one day. */
export const MAX_X509_SVID_TTL_SECONDS = 86_400;

// Extensions that are the same on every leaf are built once; the ASN.1 encoder is the slow part of issuance.
const LEAF_BASIC_CONSTRAINTS = new x509.BasicConstraintsExtension(false, undefined, true);
const LEAF_EKU = new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth], false);
const LEAF_KU_EC = new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true);
// keyEncipherment only matters for RSA key transport (checklist item 29).
const LEAF_KU_RSA = new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true);

/** SPKI and key bits of a key that came without them (a ParsedCsr built by hand): one export, one parse. */
async function exportedKey(publicKey: CryptoKey): Promise<{ spki: Uint8Array; subjectPublicKey: Uint8Array<ArrayBuffer> }> {
  const spki = await crypto.subtle.exportKey("spki", publicKey);
  return { spki: new Uint8Array(spki), subjectPublicKey: new Uint8Array(AsnConvert.parse(spki, SubjectPublicKeyInfo).subjectPublicKey) };
}

/** Per signing certificate: its AKI extension and trust domain, computed once. */
const issuerFacts = new WeakMap<x509.X509Certificate, Promise<{ aki: x509.AuthorityKeyIdentifierExtension; trustDomain: string | undefined }>>();

function factsOf(cert: x509.X509Certificate): Promise<{ aki: x509.AuthorityKeyIdentifierExtension; trustDomain: string | undefined }> {
  let facts = issuerFacts.get(cert);
  if (facts === undefined) {
    facts = authorityKeyIdentifier(cert).then((aki) => ({ aki, trustDomain: caTrustDomain(cert) }));
    issuerFacts.set(cert, facts);
  }
  return facts;
}

const DNS_NAME = /^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/**
 * Signs an X.509-SVID for `spiffeId` over the CSR's public key.
 *
 * Inputs are the caller's responsibility: `ttlSeconds` must be an integer in
 * 1..86400, `spiffeId` must have a path and belong to the CA's trust domain, and
 * `dnsNames` must be DNS names; otherwise a TypeError.
 * @throws CaUnavailableError if the CA has expired or is not yet valid.
 * @example
 * const csr = await parseCsr(pem, id);
 * const svid = await issueX509Svid({ csr, spiffeId: id, ca, clock: systemClock, ttlSeconds: 3600 });
 */
export async function issueX509Svid(p: {
  csr: ParsedCsr;
  spiffeId: SpiffeId;
  ca: SigningCa;
  clock: Clock;
  ttlSeconds: number;
  dnsNames?: string[];
}): Promise<IssuedX509Svid> {
  const { csr, spiffeId, ca, clock, ttlSeconds } = p;
  const dnsNames = p.dnsNames ?? [];
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > MAX_X509_SVID_TTL_SECONDS) {
    throw new TypeError(`ttlSeconds must be an integer in 1..${MAX_X509_SVID_TTL_SECONDS}, got ${String(ttlSeconds)}`);
  }
  if (!(spiffeId instanceof SpiffeId)) throw new TypeError("spiffeId must be a SpiffeId");
  // Item 25: a leaf's SPIFFE ID has a non-root path.
  if (spiffeId.path === "") throw new TypeError(`an X.509-SVID needs a SPIFFE ID with a path, got ${spiffeId.toString()}`);
  const { aki, trustDomain: caDomain } = await factsOf(ca.certificate);
  if (caDomain !== undefined && !spiffeId.isMemberOf(caDomain)) {
    throw new TypeError(`${spiffeId.toString()} is not in the signing CA's trust domain ${caDomain}`);
  }
  for (const name of dnsNames) {
    if (typeof name !== "string" || name.length > 253 || !DNS_NAME.test(name)) {
      throw new TypeError(`dnsNames: ${String(name)} is not a DNS name`);
    }
  }

  const now = secondsPrecision(clock.now());
  const caNotBefore = ca.notBefore.getTime();
  const caNotAfter = ca.notAfter.getTime();
  if (now >= caNotAfter) throw new CaUnavailableError("the signing CA has expired");
  if (now < caNotBefore) throw new CaUnavailableError("the signing CA is not yet valid");
  // Item 32: never outlive the signing CA, and never start before it.
  const notBefore = new Date(Math.max(backdatedNotBefore(now).getTime(), caNotBefore));
  const notAfter = new Date(Math.min(now + ttlSeconds * 1000, caNotAfter));

  const id = spiffeId.toString();
  const serial = randomSerialHex();
  const key = csr.spki !== undefined && csr.subjectPublicKey !== undefined ? { spki: csr.spki, subjectPublicKey: csr.subjectPublicKey } : await exportedKey(csr.publicKey);
  const subjectKeyIdentifier = csr.subjectKeyIdentifier ?? (await keyIdentifier(key.subjectPublicKey));
  const template = leafTemplate(ca, { basicConstraints: LEAF_BASIC_CONSTRAINTS, keyUsageEc: LEAF_KU_EC, keyUsageRsa: LEAF_KU_RSA, extKeyUsage: LEAF_EKU, aki });
  const der = await signLeaf(ca, template, { serialHex: serial, notBefore, notAfter, spki: key.spki, subjectKeyIdentifier, rsa: csr.keyAlgorithm.startsWith("RSA"), uri: id, dnsNames });
  const certificatePem = encodePem(der, PEM_CERTIFICATE);
  return {
    spiffeId: id,
    certificatePem,
    chainPem: certificatePem + ca.certificatePem,
    serial,
    notBefore,
    notAfter,
  };
}

/** What `strait svid inspect` shows for one certificate. */
export interface X509SvidInfo {
  /** The SPIFFE ID when the certificate has exactly one URI SAN and it is a valid SPIFFE ID. */
  spiffeId: string | null;
  serial: string;
  subject: string;
  issuer: string;
  notBefore: string;
  notAfter: string;
  keyAlgorithm: string;
  isCa: boolean;
  keyUsage: string[];
  extKeyUsage: string[];
  uris: string[];
  dnsNames: string[];
  /** Uppercase, colon-separated, as `openssl x509 -fingerprint -sha256` prints it. */
  sha256Fingerprint: string;
}

const KEY_USAGE_NAMES: ReadonlyArray<[x509.KeyUsageFlags, string]> = [
  [x509.KeyUsageFlags.digitalSignature, "digitalSignature"],
  [x509.KeyUsageFlags.nonRepudiation, "nonRepudiation"],
  [x509.KeyUsageFlags.keyEncipherment, "keyEncipherment"],
  [x509.KeyUsageFlags.dataEncipherment, "dataEncipherment"],
  [x509.KeyUsageFlags.keyAgreement, "keyAgreement"],
  [x509.KeyUsageFlags.keyCertSign, "keyCertSign"],
  [x509.KeyUsageFlags.cRLSign, "cRLSign"],
  [x509.KeyUsageFlags.encipherOnly, "encipherOnly"],
  [x509.KeyUsageFlags.decipherOnly, "decipherOnly"],
];

const EKU_NAMES: ReadonlyMap<string, string> = new Map(
  Object.entries(x509.ExtendedKeyUsage).map(([name, oid]) => [oid as string, name]),
);

/**
 * Describes every certificate in a PEM text (other PEM blocks, such as keys, are skipped).
 * @throws PemError if there is no certificate or one is not DER X.509.
 */
export async function inspectCertificates(pem: string): Promise<X509SvidInfo[]> {
  const blocks = decodePem(pem, "pem").filter((b) => b.label === PEM_CERTIFICATE);
  if (blocks.length === 0) throw new PemError("pem: no CERTIFICATE block found", { field: "pem" });
  return Promise.all(blocks.map((b, i) => describeCertificate(parseCertificateDer(b.der, `pem[${i}]`))));
}

async function describeCertificate(cert: x509.X509Certificate): Promise<X509SvidInfo> {
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const names = san?.names.items ?? [];
  const uris = names.filter((n) => n.type === "url").map((n) => n.value);
  const dnsNames = names.filter((n) => n.type === "dns").map((n) => n.value);
  const ku = cert.getExtension(x509.KeyUsagesExtension);
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", cert.rawData));
  return {
    spiffeId: uris.length === 1 ? validSpiffeId(uris[0] as string) : null,
    serial: cert.serialNumber.toLowerCase(),
    subject: cert.subject,
    issuer: cert.issuer,
    notBefore: cert.notBefore.toISOString(),
    notAfter: cert.notAfter.toISOString(),
    keyAlgorithm: describeKeyAlgorithm(cert.publicKey),
    isCa: bc?.ca ?? false,
    keyUsage: ku === null ? [] : KEY_USAGE_NAMES.filter(([flag]) => (ku.usages & flag) !== 0).map(([, name]) => name),
    extKeyUsage: eku === null ? [] : Array.from(eku.usages, (u) => (typeof u === "string" ? (EKU_NAMES.get(u) ?? u) : String(u))),
    uris,
    dnsNames,
    sha256Fingerprint: toHex(digest).toUpperCase().replace(/(..)(?!$)/g, "$1:"),
  };
}

function validSpiffeId(uri: string): string | null {
  try {
    return SpiffeId.parse(uri).toString();
  } catch {
    return null;
  }
}
