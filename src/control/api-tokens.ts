import { decodeProtectedHeader, importJWK, jwtVerify, type JWTPayload } from "jose";
import { eq } from "drizzle-orm";
import { apiTokens } from "../../schema/index.ts";
import { UnauthenticatedError } from "../core/errors.ts";
import type { Database } from "./db.ts";
import type { ControlEnv } from "./env.ts";
import type { Principal } from "./types.ts";
import { getControlSigner, getTrustBundles } from "./signer.ts";
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

/** Signs a new API token and returns it with the row to insert into `api_tokens` (insert it in the same batch as its audit event). */
export async function mintApiToken(env: ControlEnv, req: ApiTokenRequest, now: number): Promise<MintedApiToken & { row: typeof apiTokens.$inferInsert }> {
  const id = crypto.randomUUID();
  const signer = await getControlSigner(env);
  const token = await signer.signJwt(
    { jti: id, ns: req.namespaces, access: req.access },
    { typ: API_TOKEN_TYP, audience: CONTROL_AUDIENCE, subject: req.subject, ttlSeconds: req.ttlSeconds },
  );
  const expiresAt = (Math.floor(now / 1000) + req.ttlSeconds) * 1000;
  return {
    id,
    token,
    expiresAt,
    row: { id, subject: req.subject, namespaces: JSON.stringify(req.namespaces), access: req.access, createdAt: now, expiresAt, revokedAt: null },
  };
}

function claimsOf(payload: JWTPayload): { id: string; namespaces: string[]; access: ApiTokenAccess; subject: string } | undefined {
  const { jti, sub } = payload;
  const ns = payload["ns"];
  const access = payload["access"];
  if (typeof jti !== "string" || typeof sub !== "string") return undefined;
  if (!Array.isArray(ns) || !ns.every((n): n is string => typeof n === "string")) return undefined;
  if (access !== "read" && access !== "write") return undefined;
  return { id: jti, namespaces: ns, access, subject: sub };
}

/**
 * Verifies a scoped API token: signature by a JWT key in our bundle, typ,
 * audience, issuer, expiry, then that the token is recorded and not revoked.
 * Any failure is a 401 `UnauthenticatedError`.
 */
export async function verifyApiToken(env: ControlEnv, db: Database, token: string, now: number): Promise<TokenPrincipal> {
  const trustDomain = trustDomainOf(env);
  const bundle = (await getTrustBundles(env)).get(trustDomain);
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(
      token,
      async (header) => {
        const jwk = header.kid === undefined ? undefined : bundle?.jwtAuthorities.get(header.kid);
        if (jwk === undefined) throw new Error("unknown kid");
        return importJWK({ ...jwk, alg: "ES256" }, "ES256");
      },
      { algorithms: ["ES256"], typ: API_TOKEN_TYP, audience: CONTROL_AUDIENCE, issuer: `spiffe://${trustDomain}`, currentDate: new Date(now) },
    ));
  } catch (err) {
    throw new UnauthenticatedError(`API token rejected: ${err instanceof Error ? err.message : String(err)}`);
  }
  const claims = claimsOf(payload);
  if (claims === undefined) throw new UnauthenticatedError("API token rejected: missing or malformed jti/sub/ns/access claims");
  const [row] = await db.select().from(apiTokens).where(eq(apiTokens.id, claims.id));
  if (row === undefined) throw new UnauthenticatedError("API token rejected: unknown token id");
  if (row.revokedAt !== null) throw new UnauthenticatedError("API token rejected: revoked");
  return { type: "token", tokenId: claims.id, subject: claims.subject, namespaces: claims.namespaces, access: claims.access };
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
