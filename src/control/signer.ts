import { CompactSign, SignJWT } from "jose";
import { systemClock } from "../core/clock.ts";
import type { TrustBundleSet } from "../identity/bundle.ts";
import type { ControlEnv } from "./env.ts";
import { authorityViews, loadAuthority } from "./identity/authority.ts";

/**
 * The control plane's signing key: the active CA generation's JWT key, whose
 * public half is in the trust bundle, so anything holding the bundle can
 * verify what the control plane signs (snapshots, API tokens).
 */
export interface ControlSigner {
  kid: string;
  /** Compact ES256 JWS over `payload`, protected header `{alg, kid, typ}`. */
  signJws(payload: Uint8Array, typ: string): Promise<string>;
  /** A JWT with `claims` plus iss (our trust domain's SPIFFE ID), sub, aud, iat, exp. */
  signJwt(claims: Record<string, unknown>, o: { typ: string; audience: string; subject: string; ttlSeconds: number }): Promise<string>;
}

export async function getControlSigner(env: ControlEnv): Promise<ControlSigner> {
  const authority = await loadAuthority(env, systemClock);
  const { jwtKey } = authority.signing;
  const header = (typ: string) => ({ alg: jwtKey.alg, kid: jwtKey.kid, typ });
  return {
    kid: jwtKey.kid,
    signJws: (payload, typ) => new CompactSign(payload).setProtectedHeader(header(typ)).sign(jwtKey.privateKey),
    signJwt: (claims, o) => {
      if (!Number.isInteger(o.ttlSeconds) || o.ttlSeconds < 1) throw new TypeError("signJwt: ttlSeconds must be a positive integer");
      const iat = Math.floor(systemClock.now() / 1000);
      return new SignJWT(claims)
        .setProtectedHeader(header(o.typ))
        .setIssuer(`spiffe://${authority.trustDomain}`)
        .setSubject(o.subject)
        .setAudience(o.audience)
        .setIssuedAt(iat)
        .setExpirationTime(iat + o.ttlSeconds)
        .sign(jwtKey.privateKey);
    },
  };
}

/**
 * Our own trust domain's current bundle, keyed by trust domain, for verifying
 * JWT-SVIDs. Built once per bundle content and shared (see `authorityViews`), so
 * a request costs no bundle rebuild, certificate parse or key import.
 */
export async function getTrustBundles(env: ControlEnv): Promise<TrustBundleSet> {
  const authority = await loadAuthority(env, systemClock);
  return authorityViews(authority, systemClock.now()).bundles;
}
