/**
 * The control plane's snapshot-signing keys, from our trust domain's SPIFFE bundle (`jwt-svid`
 * keys). The bundle comes from a trusted channel the runtime provides (Workers: the control
 * worker over a service binding; Deno: a pinned bundle file or the control API). An unknown
 * `kid` triggers one re-fetch (rate limited), so a CA rotation is picked up without a restart.
 */
import { importJWK } from "jose";
import type { Clock } from "../../core/clock.ts";
import type { VerificationKeyLookup } from "../../core/snapshot/snapshot-reader.ts";
import { parseSpiffeBundle, type TrustBundle } from "../../identity/bundle.ts";

/** Loads the bundle document (a SPIFFE bundle JWK set) of `trustDomain`. */
export type BundleLoader = () => Promise<{ trustDomain: string; bundle: unknown }>;

export interface BundleKeyLookupOptions {
  load: BundleLoader;
  clock: Clock;
  /** Expected trust domain; a bundle for another one is refused. */
  trustDomain?: string;
  /** At most one re-fetch per this interval for an unknown kid (default 30 s). */
  minRefetchMs?: number;
}

export function bundleKeyLookup(o: BundleKeyLookupOptions): VerificationKeyLookup {
  let bundle: TrustBundle | undefined;
  let fetchedAt = Number.NEGATIVE_INFINITY;
  let inflight: Promise<void> | undefined;
  const keys = new Map<string, CryptoKey>();
  const minRefetch = o.minRefetchMs ?? 30_000;

  const refresh = async (): Promise<void> => {
    fetchedAt = o.clock.now();
    const loaded = await o.load();
    if (o.trustDomain !== undefined && loaded.trustDomain !== o.trustDomain) {
      throw new Error(`trust bundle is for ${loaded.trustDomain}, expected ${o.trustDomain}`);
    }
    bundle = parseSpiffeBundle(loaded.trustDomain, loaded.bundle);
    keys.clear();
  };

  return async (kid) => {
    if (bundle === undefined || (!bundle.jwtAuthorities.has(kid) && o.clock.now() - fetchedAt >= minRefetch)) {
      inflight ??= refresh().finally(() => (inflight = undefined));
      await inflight;
    }
    const jwk = bundle?.jwtAuthorities.get(kid);
    if (jwk === undefined) return undefined;
    let key = keys.get(kid);
    if (key === undefined) {
      const imported = await importJWK({ ...jwk, alg: "ES256" } as Parameters<typeof importJWK>[0], "ES256");
      if (!(imported instanceof CryptoKey)) return undefined;
      key = imported;
      keys.set(kid, key);
    }
    return key;
  };
}
