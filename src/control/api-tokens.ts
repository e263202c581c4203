import { SignJWT, decodeProtectedHeader, importJWK, jwtVerify, type JWTPayload } from "jose";
import { eq } from "drizzle-orm";
import { apiTokens } from "../../schema/index.ts";
import { UnauthenticatedError } from "../core/errors.ts";
import type { Database } from "./db.ts";
import type { ControlEnv } from "./env.ts";
import type { Principal } from "./types.ts";
import type { Clock } from "../core/clock.ts";
import { getTrustBundles } from "./signer.ts";
import { activeSigningKey, apiTokenKeyring, verificationKey, verifies, type ApiTokenKeyring } from "./identity/api-token-keys.ts";
import { CONTROL_AUDIENCE, trustDomainOf } from "./identity/settings.ts";

/** JOSE `typ` of scoped API tokens; distinguishes them from JWT-SVIDs. */
export const API_TOKEN_TYP = "strait-api+jwt";
export const DEFAULT_API_TOKEN_TTL_SECONDS = 30 * 86400;
export const MAX_API_TOKEN_TTL_SECONDS = 365 * 86400;

export type ApiTokenAccess = "read" | "write";
export type TokenPrincipal = Extract<Principal, { type: "token" }>;

export interface ApiTokenRequest {
  subject: string;
  /** Namespaces in scope; "*" means all. */
  namespaces: string[];
  access: ApiTokenAccess;
  ttlSeconds: number;
}

export interface MintedApiToken {
  id: string;
  token: string;
  expiresAt: number;
}

/** True if `token` is a JWS whose header says it is a Strait API token (no signature check). */
export function looksLikeApiToken(token: string): boolean {
  try {
    return decodeProtectedHeader(token).typ === API_TOKEN_TYP;
  } catch {
    return false;
  }
}

/**
 * Signs a new API token with the API-token key (never a CA generation's JWT-SVID
 * key) and returns it with the row to insert into `api_tokens` (insert it in the
 * same batch as its audit event). The row, not the token's claims, is what
 * verification trusts.
 */
export async function mintApiToken(env: ControlEnv, db: Database, req: ApiTokenRequest, clock: Clock): Promise<MintedApiToken & { row: typeof apiTokens.$inferInsert }> {
  if (!Number.isInteger(req.ttlSeconds) || req.ttlSeconds < 1) throw new TypeError("mintApiToken: ttlSeconds must be a positive integer");
  const id = crypto.randomUUID();
  const key = await activeSigningKey(env, db, clock);
  const now = clock.now();
  const iat = Math.floor(now / 1000);
  const token = await new SignJWT({ jti: id, ns: req.namespaces, access: req.access })
    .setProtectedHeader({ alg: "ES256", kid: key.kid, typ: API_TOKEN_TYP })
    .setIssuer(`spiffe://${trustDomainOf(env)}`)
    .setSubject(req.subject)
    .setAudience(CONTROL_AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(iat + req.ttlSeconds)
    .sign(key.privateKey);
  const expiresAt = (iat + req.ttlSeconds) * 1000;
  return {
    id,
    token,
    expiresAt,
    row: { id, subject: req.subject, namespaces: JSON.stringify(req.namespaces), access: req.access, createdAt: now, expiresAt, revokedAt: null },
  };
}

function refuse(why: string): never {
  throw new UnauthenticatedError(`API token rejected: ${why}`);
}

/**
 * The key a token's `kid` names: an API-token key that still verifies, or, for
 * tokens minted before API-token keys existed (legacy), a CA generation's JWT key
 * in the current bundle; `legacy` says which.
 */
async function keyFor(env: ControlEnv, db: Database, kid: string, clock: Clock): Promise<{ key: CryptoKey; legacy: boolean; ring: ApiTokenKeyring }> {
  const ring = await apiTokenKeyring(db, clock);
  const record = ring.keys.find((k) => k.kid === kid);
  if (record !== undefined) {
    if (!verifies(record, clock.now())) refuse(record.status === "revoked" ? "its signing key has been revoked" : "its signing key has been retired");
    return { key: await verificationKey(record), legacy: false, ring };
  }
  const jwk = (await getTrustBundles(env)).get(trustDomainOf(env))?.jwtAuthorities.get(kid);
  if (jwk === undefined) refuse("unknown signing key (kid)");
  return { key: (await importJwk(jwk)) as CryptoKey, legacy: true, ring };
}

const legacyKeys = new WeakMap<JsonWebKey, Promise<CryptoKey>>();
function importJwk(jwk: JsonWebKey): Promise<CryptoKey> {
  let key = legacyKeys.get(jwk);
  if (key === undefined) {
    key = importJWK({ ...jwk, alg: "ES256" }, "ES256") as Promise<CryptoKey>;
    legacyKeys.set(jwk, key);
  }
  return key;
}

/**
 * Verifies a scoped API token: header (ES256, typ, a kid naming a key that still
 * verifies), signature, audience, issuer and expiry; then the STORED row decides:
 * it must exist, be unrevoked and unexpired, and its namespaces, access and
 * subject are the principal's (a row narrowed after minting narrows the token).
 * Any failure is a 401 `UnauthenticatedError`.
 */
export async function verifyApiToken(env: ControlEnv, db: Database, token: string, clock: Clock): Promise<TokenPrincipal> {
  const now = clock.now();
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    refuse("malformed header");
  }
  if (header.alg !== "ES256") refuse("alg must be ES256");
  if (typeof header.kid !== "string" || header.kid === "" || header.kid.length > 128) refuse("missing or malformed kid");
  const { key, legacy, ring } = await keyFor(env, db, header.kid, clock);
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, key, {
      algorithms: ["ES256"],
      typ: API_TOKEN_TYP,
      audience: CONTROL_AUDIENCE,
      issuer: `spiffe://${trustDomainOf(env)}`,
      requiredClaims: ["jti", "exp"],
      currentDate: new Date(now),
    }));
  } catch (err) {
    refuse(err instanceof Error ? err.message : String(err));
  }
  // Only the id is taken from the token; scope, access, subject and expiry come from the row.
  const id = payload.jti;
  if (typeof id !== "string" || id === "" || id.length > 64) refuse("missing or malformed jti claim");
  const [row] = await db.select().from(apiTokens).where(eq(apiTokens.id, id));
  if (row === undefined) refuse("unknown token id");
  if (row.revokedAt !== null) refuse("revoked");
  if (row.expiresAt <= now) refuse(`expired at ${new Date(row.expiresAt).toISOString()}`);
  // A CA generation's key vouches only for tokens minted before API-token keys existed.
  if (legacy && ring.firstCreatedAt !== undefined && row.createdAt >= ring.firstCreatedAt) refuse("signed with a CA generation key, not an API-token key");
  let namespaces: unknown;
  try {
    namespaces = JSON.parse(row.namespaces);
  } catch {
    namespaces = undefined;
  }
  if (!Array.isArray(namespaces) || !namespaces.every((n): n is string => typeof n === "string")) refuse("stored scope is malformed");
  return { type: "token", tokenId: row.id, subject: row.subject, namespaces, access: row.access };
}

/** Public view of an `api_tokens` row (never the token itself). */
export function apiTokenView(row: typeof apiTokens.$inferSelect) {
  return {
    id: row.id,
    subject: row.subject,
    namespaces: JSON.parse(row.namespaces) as string[],
    access: row.access,
    createdAt: new Date(row.createdAt).toISOString(),
    expiresAt: new Date(row.expiresAt).toISOString(),
    revokedAt: row.revokedAt === null ? null : new Date(row.revokedAt).toISOString(),
  };
}
