/**
 * Verified JWT-SVIDs, remembered until they expire, as Envoy's `jwt_authn` filter keeps
 * verified tokens (`jwt_cache_config`). Verifiers that see one token on many requests pay
 * for its signature once: the node proxy's edge ingress (the gateway sends one JWT-SVID per
 * node proxy until it nears expiry) and the control API (a node proxy presents one JWT-SVID
 * on every long-poll and snapshot read).
 *
 * A token is remembered only after a full `validateJwtSvid` succeeded, keyed by its exact
 * text together with everything it was validated against: the bundle set (by identity: the
 * control plane and the node proxy build a new set when the bundle changes, so a rotated
 * or removed key is never trusted from memory), the audience, the leeway and the lifetime
 * bound. A hit checks `exp` against the clock again; the other time checks (`nbf`, `iat` in
 * the future, the lifetime bound) can only have become easier to pass since. Failures are
 * never remembered. Callers keep their own per-request checks (a subject's revocation, a
 * node's standing): only the token's validation is remembered.
 */
import { deepFreeze } from "../core/deep-freeze.ts";
import type { TrustBundleSet } from "./bundle.ts";
import { JwtSvidError } from "./errors.ts";
import { DEFAULT_LEEWAY_SECONDS, MAX_JWT_SVID_TTL_SECONDS, validateJwtSvid, type JwtSvidValidationOptions, type ValidatedJwtSvid } from "./jwt-svid.ts";

/** Default number of tokens remembered (least recently used go first). */
export const DEFAULT_JWT_SVID_CACHE_ENTRIES = 1024;
/** Longer tokens are validated every time (real JWT-SVIDs are well under 1 KiB), so the cache holds at most entries × this. */
export const MAX_CACHED_JWT_SVID_BYTES = 4096;

interface Entry {
  bundles: TrustBundleSet;
  audience: string;
  leewaySeconds: number;
  maxLifetimeSeconds: number;
  expSeconds: number;
  result: ValidatedJwtSvid;
}

export class JwtSvidCache {
  private readonly entries = new Map<string, Entry>();
  readonly maxEntries: number;

  constructor(options: { maxEntries?: number } = {}) {
    const max = options.maxEntries ?? DEFAULT_JWT_SVID_CACHE_ENTRIES;
    if (!Number.isInteger(max) || max < 1) throw new TypeError(`maxEntries must be an integer >= 1, got ${String(max)}`);
    this.maxEntries = max;
  }

  /** Tokens remembered now. */
  get size(): number {
    return this.entries.size;
  }

  /** Forgets every token (e.g. when the verifier's bundle changed and the old entries can no longer hit). */
  clear(): void {
    this.entries.clear();
  }

  /**
   * `validateJwtSvid(token, p)`, answered from memory for a token this cache validated against
   * the same bundle set, audience, leeway and lifetime bound, until it expires. The result is
   * frozen (it is shared by every request that presents the token).
   * @throws JwtSvidError exactly as `validateJwtSvid` does (an expired remembered token: "token has expired (exp)").
   */
  async validate(token: string, p: JwtSvidValidationOptions): Promise<ValidatedJwtSvid> {
    const leewaySeconds = p.leewaySeconds ?? DEFAULT_LEEWAY_SECONDS;
    const maxLifetimeSeconds = p.maxLifetimeSeconds ?? MAX_JWT_SVID_TTL_SECONDS;
    const hit = this.entries.get(token);
    if (hit !== undefined) {
      this.entries.delete(token);
      if (hit.bundles === p.bundles && hit.audience === p.audience && hit.leewaySeconds === leewaySeconds && hit.maxLifetimeSeconds === maxLifetimeSeconds) {
        // The same comparison as the full validation's.
        if (hit.expSeconds <= Math.floor(p.clock.now() / 1000) - leewaySeconds) throw new JwtSvidError("token has expired (exp)");
        this.entries.set(token, hit); // most recently used
        return hit.result;
      }
      // Validated against something else (another audience, a replaced bundle): in full again.
    }
    const result = deepFreeze(await validateJwtSvid(token, p));
    if (token.length <= MAX_CACHED_JWT_SVID_BYTES) {
      this.remember(token, { bundles: p.bundles, audience: p.audience, leewaySeconds, maxLifetimeSeconds, expSeconds: result.claims.exp as number, result }, p.clock.now());
    }
    return result;
  }

  private remember(token: string, entry: Entry, now: number): void {
    if (this.entries.size >= this.maxEntries) {
      // Expired tokens go first; then the least recently used.
      const nowSeconds = Math.floor(now / 1000);
      for (const [t, e] of this.entries) if (e.expSeconds <= nowSeconds - e.leewaySeconds) this.entries.delete(t);
      while (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    }
    this.entries.set(token, entry);
  }
}
