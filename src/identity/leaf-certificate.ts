/**
 * The X.509-SVID leaf, assembled from parts encoded once per signing CA.
 *
 * Everything that never changes between leaves of one CA — version, signature
 * algorithm, issuer Name, basicConstraints, keyUsage, EKU and the AKI — is
 * encoded once (by @peculiar/x509, the same library that encoded every leaf
 * before) and kept per CA; per leaf only the serial, validity, SPKI, SAN and SKI
 * are encoded, by the few DER writers below (encoding our own values, never
 * parsing anyone's), and the TBS is signed once. Nothing the issuer builds is
 * parsed back. The output is byte-for-byte the structure X509CertificateGenerator
 * produced (test/identity/leaf-certificate.test.ts compares them).
 */
import type { SigningCa } from "./ca.ts";
import { ECDSA_SHA256, x509 } from "./x509.ts";

/** Bytes taken by the DER length octets of `n`. */
function lengthSize(n: number): number {
  if (n < 0x80) return 1;
  let size = 1;
  for (let v = n; v > 0; v = Math.floor(v / 256)) size++;
  return size;
}

/** One TLV: `tag`, then the DER length of the concatenated `contents`, then them, in one allocation. */
export function tlv(tag: number, ...contents: Uint8Array[]): Uint8Array<ArrayBuffer> {
  let length = 0;
  for (const c of contents) length += c.length;
  const lengthBytes = lengthSize(length);
  const out = new Uint8Array(1 + lengthBytes + length);
  out[0] = tag;
  if (lengthBytes === 1) {
    out[1] = length;
  } else {
    out[1] = 0x80 | (lengthBytes - 1);
    for (let i = lengthBytes, v = length; i > 1; i--, v = Math.floor(v / 256)) out[i] = v & 0xff;
  }
  let at = 1 + lengthBytes;
  for (const c of contents) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

const SEQUENCE = 0x30;
const INTEGER = 0x02;
const BIT_STRING = 0x03;
const OCTET_STRING = 0x04;
const UTC_TIME = 0x17;
const GENERALIZED_TIME = 0x18;

/** A DER INTEGER from unsigned big-endian bytes (minimal, positive). */
export function unsignedInteger(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const v = bytes.subarray(i);
  return (v[0] ?? 0) & 0x80 ? tlv(INTEGER, Uint8Array.of(0), v) : tlv(INTEGER, v);
}

const UTF8 = new TextEncoder();
const ascii = (s: string): Uint8Array => UTF8.encode(s);
const two = (n: number): string => String(n).padStart(2, "0");

/** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, seconds, "Z". */
export function x509Time(d: Date): Uint8Array<ArrayBuffer> {
  const y = d.getUTCFullYear();
  const rest = `${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}Z`;
  return y > 2049 ? tlv(GENERALIZED_TIME, ascii(`${String(y).padStart(4, "0")}${rest}`)) : tlv(UTC_TIME, ascii(`${two(y % 100)}${rest}`));
}

function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

const OID_SAN = Uint8Array.of(0x06, 0x03, 0x55, 0x1d, 0x11);
const OID_SKI = Uint8Array.of(0x06, 0x03, 0x55, 0x1d, 0x0e);
const CRITICAL = Uint8Array.of(0x01, 0x01, 0xff);

/** subjectAltName (critical: the subject is empty) with one URI and any DNS names. */
export function sanExtension(uri: string, dnsNames: readonly string[]): Uint8Array<ArrayBuffer> {
  const names = [tlv(0x86, ascii(uri)), ...dnsNames.map((n) => tlv(0x82, ascii(n)))];
  return tlv(SEQUENCE, OID_SAN, CRITICAL, tlv(OCTET_STRING, tlv(SEQUENCE, ...names)));
}

/** SHA-1 of the subjectPublicKey bits (RFC 5280 §4.2.1.2 method 1), as @peculiar/x509's getKeyIdentifier. */
export async function keyIdentifier(subjectPublicKey: Uint8Array<ArrayBuffer>): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-1", subjectPublicKey));
}

/** subjectKeyIdentifier (not critical) holding `id`. */
export function skiExtension(id: Uint8Array): Uint8Array<ArrayBuffer> {
  return tlv(SEQUENCE, OID_SKI, tlv(OCTET_STRING, tlv(OCTET_STRING, id)));
}

/** WebCrypto's ECDSA P-256 signature (r || s) as DER ECDSA-Sig-Value (item 36). */
function ecdsaSigValue(p1363: Uint8Array): Uint8Array<ArrayBuffer> {
  return tlv(SEQUENCE, unsignedInteger(p1363.subarray(0, 32)), unsignedInteger(p1363.subarray(32)));
}

/** The constant parts of every leaf one CA signs. */
interface LeafTemplate {
  versionAndSerialTag: Uint8Array;
  signatureAlgorithm: Uint8Array;
  issuer: Uint8Array;
  emptySubject: Uint8Array;
  basicConstraints: Uint8Array;
  keyUsageEc: Uint8Array;
  keyUsageRsa: Uint8Array;
  extKeyUsage: Uint8Array;
  authorityKeyIdentifier: Uint8Array;
}

const templates = new WeakMap<SigningCa, LeafTemplate>();

/** Built once per signing CA (that is, per CA generation) and kept with it. */
export function leafTemplate(ca: SigningCa, constant: { basicConstraints: x509.Extension; keyUsageEc: x509.Extension; keyUsageRsa: x509.Extension; extKeyUsage: x509.Extension; aki: x509.Extension }): LeafTemplate {
  let t = templates.get(ca);
  if (t === undefined) {
    t = {
      versionAndSerialTag: Uint8Array.of(0xa0, 0x03, 0x02, 0x01, 0x02),
      // AlgorithmIdentifier ecdsa-with-SHA256 (1.2.840.10045.4.3.2), no parameters (RFC 5758).
      signatureAlgorithm: Uint8Array.of(0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02),
      issuer: new Uint8Array(ca.certificate.subjectName.toArrayBuffer()),
      emptySubject: Uint8Array.of(0x30, 0x00),
      basicConstraints: new Uint8Array(constant.basicConstraints.rawData),
      keyUsageEc: new Uint8Array(constant.keyUsageEc.rawData),
      keyUsageRsa: new Uint8Array(constant.keyUsageRsa.rawData),
      extKeyUsage: new Uint8Array(constant.extKeyUsage.rawData),
      authorityKeyIdentifier: new Uint8Array(constant.aki.rawData),
    };
    templates.set(ca, t);
  }
  return t;
}

/** Per-leaf values. */
export interface LeafFields {
  serialHex: string;
  notBefore: Date;
  notAfter: Date;
  /** DER SubjectPublicKeyInfo of the subject key. */
  spki: Uint8Array;
  /** SHA-1 of the subjectPublicKey bits (see keyIdentifier). */
  subjectKeyIdentifier: Uint8Array;
  rsa: boolean;
  uri: string;
  dnsNames: readonly string[];
}

/** Encodes, signs and returns the DER certificate. */
export async function signLeaf(ca: SigningCa, t: LeafTemplate, f: LeafFields): Promise<Uint8Array<ArrayBuffer>> {
  const extensions = tlv(
    0xa3,
    tlv(SEQUENCE, t.basicConstraints, f.rsa ? t.keyUsageRsa : t.keyUsageEc, t.extKeyUsage, sanExtension(f.uri, f.dnsNames), skiExtension(f.subjectKeyIdentifier), t.authorityKeyIdentifier),
  );
  const tbs = tlv(
    SEQUENCE,
    t.versionAndSerialTag,
    unsignedInteger(fromHex(f.serialHex)),
    t.signatureAlgorithm,
    t.issuer,
    tlv(SEQUENCE, x509Time(f.notBefore), x509Time(f.notAfter)),
    t.emptySubject,
    f.spki,
    extensions,
  );
  const signature = new Uint8Array(await crypto.subtle.sign(ECDSA_SHA256, ca.privateKey, tbs));
  return tlv(SEQUENCE, tbs, t.signatureAlgorithm, tlv(BIT_STRING, Uint8Array.of(0), ecdsaSigValue(signature)));
}
