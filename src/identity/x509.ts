/**
 * The one entry point to @peculiar/x509 for Strait. It needs `reflect-metadata`
 * loaded before it and a WebCrypto provider; importing `x509` from here gives
 * both. Web APIs only (WebCrypto, TextEncoder), so it runs in workerd and Node.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { randomHexId } from "../core/random-ids.ts";
import { PemError } from "./errors.ts";

x509.cryptoProvider.set(globalThis.crypto);

export { x509 };

export const PEM_CERTIFICATE = "CERTIFICATE";
export const PEM_CERTIFICATE_REQUEST = "CERTIFICATE REQUEST";
export const PEM_PRIVATE_KEY = "PRIVATE KEY";

/** ECDSA P-256 with SHA-256: the only algorithm Strait's CAs sign with. */
export const ECDSA_P256: EcKeyGenParams & EcKeyImportParams = { name: "ECDSA", namedCurve: "P-256" };
export const ECDSA_SHA256: EcdsaParams = { name: "ECDSA", hash: "SHA-256" };

/** One decoded PEM block. */
export interface PemBlock {
  label: string;
  der: ArrayBuffer;
}

/**
 * Decodes every PEM block in `text`.
 * @throws PemError naming `field` if there is no block or the base64 is broken.
 */
export function decodePem(text: string, field: string): PemBlock[] {
  if (typeof text !== "string" || !text.includes("-----BEGIN ")) {
    throw new PemError(`${field}: no PEM block found`, { field });
  }
  let structs: ReturnType<typeof x509.PemConverter.decodeWithHeaders>;
  try {
    structs = x509.PemConverter.decodeWithHeaders(text);
  } catch (cause) {
    throw new PemError(`${field}: PEM is malformed`, { field, cause });
  }
  if (structs.length === 0) throw new PemError(`${field}: no PEM block found`, { field });
  return structs.map((s) => {
    if (s.rawData.byteLength === 0) throw new PemError(`${field}: PEM block "${s.type}" is empty`, { field });
    return { label: s.type, der: s.rawData };
  });
}

/**
 * Decodes a PEM text that must hold exactly one block with one of `labels`.
 * @throws PemError naming `field` otherwise.
 */
export function decodeSinglePem(text: string, labels: readonly string[], field: string): ArrayBuffer {
  const blocks = decodePem(text, field);
  if (blocks.length !== 1) {
    throw new PemError(`${field}: expected one PEM block, found ${blocks.length}`, { field });
  }
  const [block] = blocks as [PemBlock];
  if (!labels.includes(block.label)) {
    throw new PemError(`${field}: expected a "${labels[0]}" PEM block, found "${block.label}"`, { field });
  }
  return block.der;
}

/** DER to PEM with 64-column lines and a trailing newline. */
export function encodePem(der: BufferSource, label: string): string {
  const pem = x509.PemConverter.encode(der, label).replace(/\r\n/g, "\n");
  return pem.endsWith("\n") ? pem : `${pem}\n`;
}

/** Lowercase hex of some bytes. */
export function toHex(bytes: ArrayBuffer | Uint8Array): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let out = "";
  for (const b of view) out += b.toString(16).padStart(2, "0");
  return out;
}

/** Exports a private key as PKCS#8 PEM ("PRIVATE KEY"). The key must be extractable. */
export async function exportPrivateKeyPem(key: CryptoKey): Promise<string> {
  return encodePem(await crypto.subtle.exportKey("pkcs8", key), PEM_PRIVATE_KEY);
}

/**
 * Imports a PKCS#8 PEM ECDSA P-256 private key for signing.
 * @throws PemError naming `field` if it is not one.
 */
export async function importP256PrivateKeyPem(pem: string, field: string, extractable = false): Promise<CryptoKey> {
  const der = decodeSinglePem(pem, [PEM_PRIVATE_KEY], field);
  try {
    return await crypto.subtle.importKey("pkcs8", der, ECDSA_P256, extractable, ["sign"]);
  } catch (cause) {
    throw new PemError(`${field}: not a PKCS#8 ECDSA P-256 private key`, { field, cause });
  }
}

/**
 * Parses a PEM file holding exactly one certificate.
 * @throws PemError naming `field` otherwise.
 */
export function parseCertificatePem(pem: string, field: string): x509.X509Certificate {
  const der = decodeSinglePem(pem, [PEM_CERTIFICATE], field);
  return parseCertificateDer(der, field);
}

/**
 * Parses one DER certificate, fully: @peculiar/x509 decodes fields and
 * extensions lazily, so they are all touched here, where a malformed one
 * becomes a PemError naming `field` rather than a stray error later.
 */
export function parseCertificateDer(der: ArrayBuffer, field: string): x509.X509Certificate {
  try {
    const cert = new x509.X509Certificate(der);
    void [cert.serialNumber, cert.subjectName, cert.issuerName, cert.notBefore, cert.notAfter, cert.publicKey.algorithm];
    for (const ext of cert.extensions) void ext.type;
    for (const type of CERTIFICATE_EXTENSION_TYPES) cert.getExtensions(type);
    return cert;
  } catch (cause) {
    throw new PemError(`${field}: not a well-formed DER X.509 certificate`, { field, cause });
  }
}

/** The typed extensions Strait reads from certificates. */
const CERTIFICATE_EXTENSION_TYPES: ReadonlyArray<new (raw: BufferSource) => x509.Extension> = [
  x509.BasicConstraintsExtension,
  x509.KeyUsagesExtension,
  x509.ExtendedKeyUsageExtension,
  x509.SubjectAlternativeNameExtension,
  x509.SubjectKeyIdentifierExtension,
  x509.AuthorityKeyIdentifierExtension,
];

/** A human label for a public key, e.g. "ECDSA P-256", "RSA 2048", "Ed25519". */
export function describeKeyAlgorithm(publicKey: x509.PublicKey): string {
  let alg: Algorithm & { namedCurve?: string; modulusLength?: number };
  try {
    alg = publicKey.algorithm;
  } catch {
    return "unknown";
  }
  if (alg.name === "ECDSA" || alg.name === "ECDH") return `${alg.name} ${alg.namedCurve ?? "unknown curve"}`;
  if (alg.modulusLength !== undefined) return `RSA ${alg.modulusLength}`;
  return alg.name;
}

/** How far notBefore is backdated to absorb clock skew between peers (SPIRE 10 s, Istio 2 min). */
export const NOT_BEFORE_BACKDATE_MS = 30_000;

/** X.509 times have one-second precision; truncating keeps returned Dates equal to the certificate's. */
export function secondsPrecision(ms: number): number {
  return Math.floor(ms / 1000) * 1000;
}

/** `now` minus the clock-skew cushion. */
export function backdatedNotBefore(nowMs: number): Date {
  return new Date(secondsPrecision(nowMs) - NOT_BEFORE_BACKDATE_MS);
}

/**
 * A random certificate serial (RFC 5280 §4.1.2.2, checklist item 33): 16 octets,
 * top bit cleared so the DER INTEGER is positive without a pad byte, and the
 * second-highest bit set so it is never zero and always exactly 16 octets.
 */
export function randomSerialHex(): string {
  // From the shared CSPRNG pool: one getRandomValues call per serial cost more than the rest of its encoding.
  const hex = randomHexId(16);
  const first = (Number.parseInt(hex.slice(0, 2), 16) & 0x7f) | 0x40;
  return first.toString(16) + hex.slice(2);
}
