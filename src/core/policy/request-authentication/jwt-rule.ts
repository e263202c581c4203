/**
 * One compiled `jwtRules[]` entry (an Envoy JWT provider): its token
 * locations, key source and outputs, and the verification of one token.
 */
import { decodeJwt, errors as joseErrors, jwtVerify, type JWSHeaderParameters, type JWTPayload } from "jose";
import type { Clock } from "../../clock.ts";
import { parseDurationMs } from "../../config/duration.ts";
import type { JWTRule } from "../../config/kinds/request-authentication.ts";
import { JwksError, localJwks, type JwksResolver } from "../jwks-resolver.ts";
import { DEFAULT_SPACE_DELIMITED_CLAIMS } from "./claims.ts";
import { locationsOf, type TokenLocation } from "./token-locations.ts";

/** Envoy's status strings, so 401 bodies read like Istio's. */
export const JWT_MESSAGES = {
  missing: "Jwt is missing",
  badFormat: "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections",
  unknownIssuer: "Jwt issuer is not configured",
  expired: "Jwt is expired",
  notYetValid: "Jwt not yet valid",
  audience: "Audiences in Jwt are not allowed",
  verification: "Jwt verification fails",
  jwksFetch: "Jwks remote fetch is failed",
  noValidKeys: "Jwks doesn't have key to match kid or alg from Jwt",
} as const;

/** Verified tokens kept per rule (least recently used evicted). */
export const VERIFIED_CACHE_SIZE = 256;

export interface VerifiedToken {
  payload: JWTPayload;
  /** The payload segment exactly as it appeared in the token (for `outputPayloadToHeader`). */
  payloadSegment: string;
}

export type VerifyOutcome = { ok: true; token: VerifiedToken } | { ok: false; message: string; unknownIssuer: boolean };

export interface CompiledJwtRule {
  issuer: string;
  /** `<ns>/<name>` of the RequestAuthentication. */
  policy: string;
  locations: TokenLocation[];
  rule: JWTRule;
  spaceDelimitedClaims: string[];
  verify(token: string): Promise<VerifyOutcome>;
}

export interface JwtRuleContext {
  jwks: JwksResolver;
  clock: Clock;
  clockSkewSeconds: number;
}

function fail(message: string, unknownIssuer = false): VerifyOutcome {
  return { ok: false, message, unknownIssuer };
}

/** Compiles a rule; throws a message when the rule cannot be used (its tokens are then rejected). */
export function compileJwtRule(rule: JWTRule, policy: string, ctx: JwtRuleContext): { rule: CompiledJwtRule; problem?: string } {
  let problem: string | undefined;
  const timeoutMs = rule.timeout === undefined ? undefined : parseDurationMs(rule.timeout);
  let getKey: (header: JWSHeaderParameters) => Promise<CryptoKey | Uint8Array>;
  if (rule.jwks !== undefined) {
    try {
      const local = localJwks(rule.jwks);
      getKey = (header) => local(header);
    } catch (err) {
      problem = `jwks: ${err instanceof Error ? err.message : String(err)}`;
      getKey = () => Promise.reject(new JwksError(JWT_MESSAGES.noValidKeys, "no-key"));
    }
  } else if (rule.jwksUri !== undefined) {
    const uri = rule.jwksUri;
    getKey = (header) => ctx.jwks.resolveKey(uri, header, timeoutMs === undefined ? undefined : { timeoutMs });
  } else {
    // Neither: the key set comes from the issuer's OpenID Connect discovery document, as in Istio.
    const opts = timeoutMs === undefined ? undefined : { timeoutMs };
    getKey = async (header) => ctx.jwks.resolveKey(await ctx.jwks.discoverJwksUri(rule.issuer, opts), header, opts);
  }
  const audiences = rule.audiences ?? [];
  // Verified tokens, as Envoy's per-provider jwt_cache: a hit re-checks only the time claims
  // (issuer, audience and signature cannot change for the same token string under this rule).
  const verified = new Map<string, VerifiedToken>();
  const spaceDelimitedClaims = [...new Set([...DEFAULT_SPACE_DELIMITED_CLAIMS, ...(rule.spaceDelimitedClaims ?? [])])].sort();

  async function verify(token: string): Promise<VerifyOutcome> {
    const hit = verified.get(token);
    if (hit !== undefined) {
      const now = Math.floor(ctx.clock.now() / 1000);
      const { exp, nbf } = hit.payload;
      // Same bounds as jose's checks on first verification.
      if (typeof exp === "number" && exp <= now - ctx.clockSkewSeconds) {
        verified.delete(token);
        return fail(JWT_MESSAGES.expired);
      }
      if (typeof nbf === "number" && nbf > now + ctx.clockSkewSeconds) return fail(JWT_MESSAGES.notYetValid);
      verified.delete(token);
      verified.set(token, hit);
      return { ok: true, token: hit };
    }
    const parts = token.split(".");
    if (parts.length !== 3) return fail(JWT_MESSAGES.badFormat);
    let claims: JWTPayload;
    try {
      claims = decodeJwt(token);
    } catch {
      return fail(JWT_MESSAGES.badFormat);
    }
    if (claims.iss !== rule.issuer) return fail(JWT_MESSAGES.unknownIssuer, true);
    try {
      const { payload } = await jwtVerify(token, (header) => getKey(header), {
        issuer: rule.issuer,
        ...(audiences.length > 0 ? { audience: audiences } : {}),
        currentDate: new Date(ctx.clock.now()),
        clockTolerance: ctx.clockSkewSeconds,
      });
      const result: VerifiedToken = { payload, payloadSegment: parts[1]! };
      verified.set(token, result);
      if (verified.size > VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value!);
      return { ok: true, token: result };
    } catch (err) {
      if (err instanceof JwksError) return fail(err.reason === "fetch" ? JWT_MESSAGES.jwksFetch : JWT_MESSAGES.noValidKeys);
      if (err instanceof joseErrors.JWTExpired) return fail(JWT_MESSAGES.expired);
      if (err instanceof joseErrors.JWTClaimValidationFailed) {
        if (err.claim === "aud") return fail(JWT_MESSAGES.audience);
        if (err.claim === "nbf") return fail(JWT_MESSAGES.notYetValid);
        return fail(JWT_MESSAGES.verification);
      }
      if (err instanceof joseErrors.JWKSNoMatchingKey || err instanceof joseErrors.JWKSMultipleMatchingKeys) return fail(JWT_MESSAGES.noValidKeys);
      return fail(JWT_MESSAGES.verification);
    }
  }

  return {
    rule: { issuer: rule.issuer, policy, locations: locationsOf(rule), rule, spaceDelimitedClaims, verify },
    ...(problem === undefined ? {} : { problem }),
  };
}
