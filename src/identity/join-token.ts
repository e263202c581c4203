/**
 * Join tokens: one-time shared secrets for node attestation (SPIRE's join_token).
 * Only the SHA-256 hash is ever stored; the token itself is shown once.
 */
import { base64url } from "jose";

const TOKEN_BYTES = 32;
/** base64url of 32 bytes, no padding. */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]{43}$/;

/**
 * A fresh join token: 32 random bytes, base64url (43 characters).
 * @example const token = generateJoinToken(); // store hashJoinToken(token), hand `token` to the operator
 */
export function generateJoinToken(): string {
  return base64url.encode(crypto.getRandomValues(new Uint8Array(TOKEN_BYTES)));
}

/** True when `token` has the shape {@link generateJoinToken} produces; lets callers refuse garbage before a lookup. */
export function isWellFormedJoinToken(token: unknown): token is string {
  return typeof token === "string" && TOKEN_SHAPE.test(token);
}

/** Lowercase hex SHA-256 of the token's UTF-8 bytes: the value stored and looked up. */
export async function hashJoinToken(token: string): Promise<string> {
  if (typeof token !== "string") throw new TypeError("hashJoinToken expects a string");
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token)));
  let hex = "";
  for (const b of digest) hex += b.toString(16).padStart(2, "0");
  return hex;
}
