/**
 * JWT-SVIDs (JWT-SVID.md): minting with the control plane's ES256 key and
 * validating against per-trust-domain bundles. All JOSE work is done by jose.
 *
 * Validation order: shape, header (alg allowlist, typ, kid) and claims that pick
 * the key are checked BEFORE any crypto; the key comes only from the bundle of
 * `sub`'s trust domain, never from `jku`/`x5u`/`jwk`/`x5c` headers (item 77).
 * A token without `kid` is rejected (checklist item 80, as go-spiffe and SPIRE do).
 * A token whose lifetime (exp - iat, or exp - now without iat) exceeds the
 * verifier's maximum (default MAX_JWT_SVID_TTL_SECONDS) is rejected (issue 6 finding 6).
 */
import { SignJWT, compactVerify, decodeJwt, decodeProtectedHeader, errors as joseErrors, importJWK } from "jose";
import type { JWTPayload, ProtectedHeaderParameters } from "jose";
import type { Clock } from "../core/clock.ts";
import { ValidationError } from "../core/errors.ts";
import { safeExcerpt } from "../core/text-excerpt.ts";
import type { TrustBundleSet } from "./bundle.ts";
import { JwtSvidError } from "./errors.ts";
import type { JwtSigningKey } from "./jwt-key.ts";
import { SpiffeId } from "./spiffe-id.ts";

/** Longest lifetime we mint (JWT-SVID.md §7.1 asks for short-lived tokens). */
export const MAX_JWT_SVID_TTL_SECONDS = 3600;
/** Default clock skew tolerated for `exp`, `nbf` and `iat`. */
export const DEFAULT_LEEWAY_SECONDS = 30;
/** Bound on what we decode at all; real JWT-SVIDs are well under 1 KiB. */
export const MAX_TOKEN_BYTES = 16 * 1024;
const MAX_AUDIENCES = 16;
const MAX_AUDIENCE_LENGTH = 2048;

/** Item 64: RS/ES/PS only. EdDSA, HS* and `none` are refused. Maps alg to the key it needs (item 75). */
const ALLOWED_ALGS: Record<string, { kty: "RSA" } | { kty: "EC"; crv: string }> = {
  RS256: { kty: "RSA" },
  RS384: { kty: "RSA" },
  RS512: { kty: "RSA" },
  PS256: { kty: "RSA" },
  PS384: { kty: "RSA" },
  PS512: { kty: "RSA" },
  ES256: { kty: "EC", crv: "P-256" },
  ES384: { kty: "EC", crv: "P-384" },
  ES512: { kty: "EC", crv: "P-521" },
};

const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * Mints a JWT-SVID: header exactly `{alg: "ES256", kid, typ: "JWT"}`, claims
 * `sub`, `aud` (a string when there is one audience), integer `iat` and `exp`.
 * @throws ValidationError (field `audience`) when the audience list is empty or malformed;
 *   TypeError for caller misuse (ttl outside 1..3600, root or foreign `spiffeId`).
 * @example
 * const { token } = await mintJwtSvid({ spiffeId, audience: ["spiffe://strait.local/ns/db/sa/pg"], key, clock, ttlSeconds: 300 });
 */
export async function mintJwtSvid(p: {
  spiffeId: SpiffeId;
  audience: string[];
  key: JwtSigningKey;
  clock: Clock;
  ttlSeconds: number;
  /** When given, `spiffeId` must belong to it (item 68). */
  trustDomain?: string;
}): Promise<{ token: string; expiresAt: Date }> {
  if (!Number.isInteger(p.ttlSeconds) || p.ttlSeconds < 1 || p.ttlSeconds > MAX_JWT_SVID_TTL_SECONDS) {
    throw new TypeError(`ttlSeconds must be an integer from 1 to ${MAX_JWT_SVID_TTL_SECONDS}`);
  }
  if (!(p.spiffeId instanceof SpiffeId)) throw new TypeError("spiffeId must be a SpiffeId");
  if (p.spiffeId.path === "") throw new TypeError("a JWT-SVID subject must have a non-root path");
  if (p.trustDomain !== undefined && !p.spiffeId.isMemberOf(p.trustDomain)) {
    throw new TypeError(`a JWT-SVID subject must be in trust domain ${p.trustDomain}`);
  }
  if (p.key.alg !== "ES256") throw new TypeError("JWT-SVIDs are minted with ES256 only");
  const audience = checkAudience(p.audience);
  const iat = Math.floor(p.clock.now() / 1000);
  const exp = iat + p.ttlSeconds;
  const token = await new SignJWT({ aud: audience.length === 1 ? audience[0] : audience })
    .setProtectedHeader({ alg: "ES256", kid: p.key.kid, typ: "JWT" })
    .setSubject(p.spiffeId.toString())
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .sign(p.key.privateKey);
  return { token, expiresAt: new Date(exp * 1000) };
}

function checkAudience(audience: unknown): string[] {
  if (!Array.isArray(audience) || audience.length === 0) {
    throw new ValidationError("audience: at least one audience is required", { field: "audience" });
  }
  if (audience.length > MAX_AUDIENCES) {
    throw new ValidationError(`audience: at most ${MAX_AUDIENCES} audiences are allowed`, { field: "audience" });
  }
  return audience.map((a: unknown, i) => {
    if (typeof a !== "string" || a.length === 0 || a.length > MAX_AUDIENCE_LENGTH) {
      throw new ValidationError(`audience[${i}]: must be a non-empty string of at most ${MAX_AUDIENCE_LENGTH} characters`, {
        field: `audience[${i}]`,
      });
    }
    return a;
  });
}

/** What a JWT-SVID is validated against (see `validateJwtSvid`). */
export interface JwtSvidValidationOptions {
  /** The audience the verifier expects (its own SPIFFE ID or service name). */
  audience: string;
  bundles: TrustBundleSet;
  clock: Clock;
  /** Clock skew tolerated for `exp`, `nbf` and `iat`; default DEFAULT_LEEWAY_SECONDS. */
  leewaySeconds?: number;
  /** Longest lifetime honoured; default MAX_JWT_SVID_TTL_SECONDS. */
  maxLifetimeSeconds?: number;
}

/** A JWT-SVID that passed validation. `claims` are untrusted for authorisation beyond sub/aud (item 85). */
export interface ValidatedJwtSvid {
  spiffeId: SpiffeId;
  audience: string[];
  expiresAt: Date;
  claims: Record<string, unknown>;
}

function refuse(message: string, cause?: unknown): never {
  throw new JwtSvidError(message, cause === undefined ? undefined : { cause });
}

function decodeHeader(token: string): ProtectedHeaderParameters {
  try {
    return decodeProtectedHeader(token);
  } catch (cause) {
    return refuse("token header is not valid base64url JSON", cause);
  }
}

function decodeClaims(token: string): JWTPayload {
  try {
    return decodeJwt(token);
  } catch (cause) {
    return refuse("token claims are not a valid JSON object", cause);
  }
}

/**
 * Validates a JWT-SVID presented to `audience`.
 * @throws JwtSvidError (message says which rule failed; never echoes the token);
 *   TypeError if `audience` is empty or `leewaySeconds` is negative.
 * @example
 * const svid = await validateJwtSvid(token, { audience: "spiffe://strait.local/ns/db/sa/pg", bundles, clock });
 * svid.spiffeId.toString(); // "spiffe://strait.local/ns/web/sa/frontend"
 */
export async function validateJwtSvid(token: string, p: JwtSvidValidationOptions): Promise<ValidatedJwtSvid> {
  if (typeof p.audience !== "string" || p.audience === "") {
    throw new TypeError("validateJwtSvid: the expected audience must be a non-empty string");
  }
  const leeway = p.leewaySeconds ?? DEFAULT_LEEWAY_SECONDS;
  if (!Number.isFinite(leeway) || leeway < 0) throw new TypeError("leewaySeconds must be >= 0");
  const maxLifetime = p.maxLifetimeSeconds ?? MAX_JWT_SVID_TTL_SECONDS;
  if (!(maxLifetime > 0)) throw new TypeError("maxLifetimeSeconds must be > 0");

  if (typeof token !== "string" || token.length === 0) refuse("token is missing");
  if (token.length > MAX_TOKEN_BYTES) refuse(`token is longer than ${MAX_TOKEN_BYTES} bytes`);
  if (token.trimStart().startsWith("{")) refuse("JWS JSON serialization is not allowed; use compact serialization");
  if (!COMPACT_JWS.test(token)) refuse("token must be three base64url segments (JWS compact serialization)");

  // jose parses the protected header once and hands it to the key resolver, where every
  // check that picks the key runs before any crypto (items 74-80); it then verifies the
  // signature with the bundle key imported once per bundle key.
  let selected: SelectedKey | undefined;
  try {
    await compactVerify(
      token,
      (header: UntrustedHeader) => {
        selected = selectKey(header, token, p.bundles);
        return verificationKey(selected);
      },
      VERIFY_OPTIONS,
    );
  } catch (cause) {
    if (cause instanceof JwtSvidError) throw cause;
    // jose refused the token before asking for a key (malformed header, alg outside the
    // allowlist, crit...): the same checks say which rule failed, in the same order as
    // when each rule was checked before jose ran.
    if (selected === undefined) await verificationKey(selectKey(decodeHeader(token), token, p.bundles));
    return refuse(describeJoseFailure(cause, p.audience), cause);
  }
  if (selected === undefined) return refuse("token validation failed");
  const { spiffeId, claims, aud } = selected;
  const now = p.clock.now();
  const payload = claims;
  const nowSeconds = Math.floor(now / 1000);
  if ((payload.exp as number) <= nowSeconds - leeway) refuse("token has expired (exp)");
  if (typeof payload.nbf === "number" && payload.nbf > nowSeconds + leeway) refuse("token is not yet valid (nbf)");
  if (!(typeof aud === "string" ? aud === p.audience : (aud as string[]).includes(p.audience))) refuse(`token aud does not include ${JSON.stringify(p.audience)}`);
  if (typeof payload.iat === "number" && payload.iat > now / 1000 + leeway) refuse("token iat is in the future");
  const exp = payload.exp as number;
  // A stolen signing key (or a misconfigured issuer) must not mint long-lived credentials we honour.
  if (typeof payload.iat === "number" ? exp - payload.iat > maxLifetime : exp - now / 1000 > maxLifetime + leeway) {
    const lifetime = typeof payload.iat === "number" ? `exp - iat = ${Math.round(exp - payload.iat)}` : `exp - now = ${Math.round(exp - now / 1000)}`;
    refuse(`token lifetime (${lifetime} s) exceeds the maximum of ${maxLifetime} s`);
  }
  const verifiedAud = payload.aud;
  return {
    spiffeId,
    audience: typeof verifiedAud === "string" ? [verifiedAud] : [...(verifiedAud ?? [])],
    expiresAt: new Date(exp * 1000),
    claims: payload,
  };
}

/** Item 64's allowlist, also handed to jose so it refuses anything else on its own. */
const VERIFY_OPTIONS = { algorithms: Object.keys(ALLOWED_ALGS) };

/** The header members the checks read, as untrusted JSON values. */
interface UntrustedHeader {
  readonly alg?: unknown;
  readonly typ?: unknown;
  readonly kid?: unknown;
}

/** What the pre-crypto checks found: the bundle key and the claims it covers. */
interface SelectedKey {
  jwk: JsonWebKey;
  alg: string;
  kid: string;
  spiffeId: SpiffeId;
  claims: JWTPayload;
  aud: string | string[];
}

/**
 * The checks that pick the key, in order, before any crypto: header (alg allowlist,
 * typ, kid), claims (sub, exp and aud present and well typed), then the key by `kid`
 * in the bundle of `sub`'s trust domain only, matching `alg`.
 */
function selectKey(header: UntrustedHeader, token: string, bundles: TrustBundleSet): SelectedKey {
  const alg = header.alg;
  if (typeof alg !== "string") refuse("token header has no alg");
  const needs = Object.hasOwn(ALLOWED_ALGS, alg) ? ALLOWED_ALGS[alg] : undefined;
  if (needs === undefined) refuse(`token alg ${JSON.stringify(alg)} is not allowed (RS*, ES* or PS* only)`);
  if (header.typ !== undefined && header.typ !== "JWT" && header.typ !== "JOSE") {
    refuse(`token typ ${JSON.stringify(header.typ)} is not allowed (JWT or JOSE)`);
  }
  if (header.kid === undefined) refuse("token header missing key id (kid)");
  if (typeof header.kid !== "string" || header.kid === "") refuse("token header kid must be a non-empty string");
  const kid = header.kid;

  const claims = decodeClaims(token);
  if (claims.sub === undefined) refuse("token has no sub claim");
  let spiffeId: SpiffeId;
  try {
    spiffeId = SpiffeId.parse(claims.sub);
  } catch (cause) {
    return refuse(`token sub is not a valid SPIFFE ID: ${cause instanceof Error ? cause.message : String(cause)}`, cause);
  }
  if (claims.exp === undefined) refuse("token has no exp claim");
  if (claims.aud === undefined) refuse("token has no aud claim");
  for (const name of ["exp", "nbf", "iat"] as const) {
    const v = claims[name];
    if (v !== undefined && (typeof v !== "number" || !Number.isFinite(v))) refuse(`token ${name} must be a NumericDate`);
  }
  const aud: unknown = claims.aud;
  if (typeof aud !== "string" && !(Array.isArray(aud) && aud.every((a) => typeof a === "string"))) {
    refuse("token aud must be a string or an array of strings");
  }

  const bundle = bundles.get(spiffeId.trustDomain);
  if (bundle === undefined) refuse(`no trust bundle for trust domain ${spiffeId.trustDomain} of the token's sub`);
  const jwk = bundle.jwtAuthorities.get(kid);
  if (jwk === undefined) refuse(`token kid ${JSON.stringify(safeExcerpt(kid, 64))} is not in the bundle for ${spiffeId.trustDomain}`);
  if (jwk.kty !== needs.kty || (needs.kty === "EC" && jwk.crv !== needs.crv)) {
    refuse(`token alg ${alg} does not match the bundle key (kty ${String(jwk.kty)}${jwk.crv ? `, crv ${jwk.crv}` : ""})`);
  }
  return { jwk, alg, kid, spiffeId, claims, aud: aud as string | string[] };
}

/**
 * Imported verification keys, per bundle JWK object and alg: a bundle built once
 * per CA generation (or per refresh) keeps its JWK objects, so each key is
 * imported once rather than on every validation. Once imported, the key itself is
 * handed out (no promise to await on the hot path).
 */
const importedKeys = new WeakMap<JsonWebKey, Map<string, CryptoKey | Uint8Array | Promise<CryptoKey | Uint8Array>>>();

function verificationKey(selected: SelectedKey): CryptoKey | Uint8Array | Promise<CryptoKey | Uint8Array> {
  const { jwk, alg, kid } = selected;
  let byAlg = importedKeys.get(jwk);
  if (byAlg === undefined) {
    byAlg = new Map();
    importedKeys.set(jwk, byAlg);
  }
  const known = byAlg.get(alg);
  if (known !== undefined) return known;
  const entries = byAlg;
  const importing = importJWK({ ...jwk, alg }, alg).then(
    (key) => {
      if (entries.get(alg) === importing) entries.set(alg, key);
      return key;
    },
    (cause: unknown) => {
      if (entries.get(alg) === importing) entries.delete(alg);
      return refuse(`bundle key ${JSON.stringify(safeExcerpt(kid, 64))} cannot be used with ${alg}`, cause);
    },
  );
  entries.set(alg, importing);
  return importing;
}

function describeJoseFailure(cause: unknown, audience: string): string {
  if (cause instanceof joseErrors.JWTExpired) return "token has expired (exp)";
  if (cause instanceof joseErrors.JWSSignatureVerificationFailed) return "token signature verification failed";
  if (cause instanceof joseErrors.JWTClaimValidationFailed) {
    if (cause.claim === "aud") return `token aud does not include ${JSON.stringify(audience)}`;
    if (cause.claim === "nbf") return "token is not yet valid (nbf)";
    return `token claim ${cause.claim} is invalid: ${cause.message}`;
  }
  if (cause instanceof TypeError) return `token claims are malformed: ${cause.message}`;
  if (cause instanceof joseErrors.JOSEError) return `token is invalid: ${cause.message}`;
  return "token validation failed";
}
