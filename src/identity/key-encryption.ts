/**
 * Sealing private keys at rest with the `CA_KEK` secret.
 *
 * Format: `v1.<salt>.<iv>.<ciphertext>` (base64url parts). Each seal draws a
 * fresh 16-byte salt, derives an AES-256-GCM key with HKDF-SHA-256 over the KEK,
 * and uses a fresh 12-byte IV; the version prefix is authenticated as AAD so a
 * blob cannot be replayed under another format.
 */
import { base64url } from "jose";
import { CaUnavailableError } from "./errors.ts";

const VERSION = "v1";
const SALT_BYTES = 16;
const IV_BYTES = 12;
/** A KEK shorter than this is an operator mistake, not a secret. */
export const MIN_KEK_LENGTH = 16;
const encoder = new TextEncoder();
const INFO = encoder.encode("strait private-key seal v1");
const AAD = encoder.encode(`strait-sealed-key:${VERSION}`);

async function deriveKey(kek: string, salt: Uint8Array<ArrayBuffer>): Promise<CryptoKey> {
  if (typeof kek !== "string" || kek.length < MIN_KEK_LENGTH) {
    // Operator configuration, not the caller's input: the CA is unusable until it is fixed (503).
    throw new CaUnavailableError(`CA_KEK must be set to a secret of at least ${MIN_KEK_LENGTH} characters`, { field: "CA_KEK" });
  }
  const material = await crypto.subtle.importKey("raw", encoder.encode(kek), "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt, info: INFO },
    material,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

/**
 * Encrypts a PEM private key for storage.
 * @throws CaUnavailableError if the KEK is missing or shorter than 16 characters; TypeError for an empty PEM.
 * @example const sealed = await sealPrivateKey(pem, env.CA_KEK);
 */
export async function sealPrivateKey(privateKeyPem: string, kek: string): Promise<string> {
  if (typeof privateKeyPem !== "string" || privateKeyPem === "") throw new TypeError("privateKeyPem must be a non-empty string");
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const key = await deriveKey(kek, salt);
  const ciphertext = await crypto.subtle.encrypt({ name: "AES-GCM", iv, additionalData: AAD }, key, encoder.encode(privateKeyPem));
  return [VERSION, base64url.encode(salt), base64url.encode(iv), base64url.encode(new Uint8Array(ciphertext))].join(".");
}

function decodePart(part: string | undefined, expectedBytes?: number): Uint8Array<ArrayBuffer> | undefined {
  if (part === undefined || !/^[A-Za-z0-9_-]+$/.test(part)) return undefined;
  const bytes = new Uint8Array(base64url.decode(part));
  return expectedBytes === undefined || bytes.length === expectedBytes ? bytes : undefined;
}

/**
 * Decrypts a value produced by {@link sealPrivateKey}.
 * @throws CaUnavailableError if the blob is malformed, the KEK is wrong, missing or too short
 *   (the key cannot be used: an operator problem, never the client's).
 */
export async function openPrivateKey(sealed: string, kek: string): Promise<string> {
  const parts = typeof sealed === "string" ? sealed.split(".") : [];
  if (parts.length !== 4 || parts[0] !== VERSION) {
    throw new CaUnavailableError(`sealed private key is not in the ${VERSION} format`);
  }
  const salt = decodePart(parts[1], SALT_BYTES);
  const iv = decodePart(parts[2], IV_BYTES);
  const ciphertext = decodePart(parts[3]);
  if (salt === undefined || iv === undefined || ciphertext === undefined) {
    throw new CaUnavailableError("sealed private key is malformed");
  }
  const key = await deriveKey(kek, salt);
  let plaintext: ArrayBuffer;
  try {
    plaintext = await crypto.subtle.decrypt({ name: "AES-GCM", iv, additionalData: AAD }, key, ciphertext);
  } catch (cause) {
    throw new CaUnavailableError("sealed private key cannot be opened: CA_KEK is wrong or the stored key is corrupted", { cause });
  }
  return new TextDecoder("utf-8", { fatal: true }).decode(plaintext);
}
