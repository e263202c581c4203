/**
 * Real signing keys (generated with jose) and tokens for RequestAuthentication
 * tests. Every time is derived from one fixed clock, so no test depends on
 * today's date.
 */
import { exportJWK, generateKeyPair, generateSecret, SignJWT, type JWK, type JWTPayload } from "jose";
import { ManualClock } from "../../../src/core/clock.ts";

export const NOW = Date.parse("2026-11-22T12:00:00Z");
export const NOW_S = Math.floor(NOW / 1000);

export interface TestKey {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  publicJwk: JWK;
}

export async function makeKey(kid: string, alg: "RS256" | "ES256" | "EdDSA" = "RS256"): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
  return { kid, alg, privateKey, publicJwk };
}

export async function makeHmacKey(kid: string): Promise<{ kid: string; alg: string; secret: Uint8Array | CryptoKey; jwk: JWK }> {
  const secret = await generateSecret("HS256", { extractable: true });
  const jwk = { ...(await exportJWK(secret)), kid, alg: "HS256" };
  return { kid, alg: "HS256", secret, jwk };
}

export function jwks(...keys: TestKey[]): string {
  return JSON.stringify({ keys: keys.map((k) => k.publicJwk) });
}

/** A signed token; `iat` defaults to the fixed clock and `exp` to an hour later. */
export async function sign(key: TestKey | { kid: string; alg: string; secret: Uint8Array | CryptoKey }, claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  const signingKey = "privateKey" in key ? key.privateKey : key.secret;
  return new SignJWT({ iat: NOW_S, exp: NOW_S + 3600, ...claims })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT", ...header })
    .sign(signingKey);
}

export function clock(): ManualClock {
  return new ManualClock(NOW);
}
