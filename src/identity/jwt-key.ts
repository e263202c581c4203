/**
 * The control plane's JWT-SVID signing key: ECDSA P-256 (ES256), stored as a
 * PKCS#8 PEM secret, identified by its RFC 7638 JWK thumbprint.
 */
import { calculateJwkThumbprint, exportJWK, exportPKCS8, generateKeyPair, importPKCS8 } from "jose";
import { PemError } from "./errors.ts";

/** An imported signing key; `publicJwk` holds only public members (`kty`, `crv`, `x`, `y`). */
export interface JwtSigningKey {
  kid: string;
  alg: "ES256";
  privateKey: CryptoKey;
  publicJwk: JsonWebKey;
}

const ES256 = "ES256";
const FIELD = "jwtSigningKey";

/**
 * Generates a fresh P-256 key and returns it as PKCS#8 PEM ("PRIVATE KEY").
 * @example const pem = await generateJwtSigningKeyPem(); // store as the JWT_SIGNING_KEY secret
 */
export async function generateJwtSigningKeyPem(): Promise<string> {
  const { privateKey } = await generateKeyPair(ES256, { extractable: true });
  return exportPKCS8(privateKey);
}

/**
 * Imports a PKCS#8 PEM P-256 private key for signing JWT-SVIDs.
 * The `kid` is the RFC 7638 SHA-256 thumbprint of the public key, so it is stable
 * across restarts and identical on every worker holding the same secret.
 * @throws PemError (field `jwtSigningKey`) if the PEM is not a PKCS#8 P-256 key.
 */
export async function importJwtSigningKey(privateKeyPem: string): Promise<JwtSigningKey> {
  if (typeof privateKeyPem !== "string" || !privateKeyPem.includes("-----BEGIN PRIVATE KEY-----")) {
    throw new PemError(`${FIELD}: expected a PKCS#8 "PRIVATE KEY" PEM block`, { field: FIELD });
  }
  let extractable: CryptoKey;
  try {
    extractable = await importPKCS8(privateKeyPem, ES256, { extractable: true });
  } catch (cause) {
    throw new PemError(`${FIELD}: not a PKCS#8 ECDSA P-256 private key`, { field: FIELD, cause });
  }
  const jwk = await exportJWK(extractable);
  if (jwk.kty !== "EC" || jwk.crv !== "P-256" || jwk.x === undefined || jwk.y === undefined) {
    throw new PemError(`${FIELD}: not an ECDSA P-256 private key`, { field: FIELD });
  }
  const publicJwk: JsonWebKey = { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y };
  const kid = await calculateJwkThumbprint({ kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y }, "sha256");
  // Keep a non-extractable handle for signing so the key cannot be exported from memory.
  const privateKey = await importPKCS8(privateKeyPem, ES256, { extractable: false });
  return { kid, alg: ES256, privateKey, publicJwk };
}
