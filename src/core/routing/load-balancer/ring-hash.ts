/**
 * Consistent hashing on a ring (Envoy ring_hash, Istio's default for
 * `consistentHash`). Each endpoint gets ring positions in proportion to its
 * weight, at least `minimumRingSize` (default 1024) in total. A key maps to
 * the first position at or after its hash; excluded endpoints are skipped by
 * walking on, so only their keys move.
 */
import type { UpstreamEndpoint } from "../types.ts";
import { endpointKey, hash32 } from "./hash.ts";
import { RandomBalancer } from "./random.ts";
import type { LoadBalancer, PickContext } from "./types.ts";

const MAX_RING_SIZE = 8 * 1024 * 1024;

interface Ring {
  hashes: Uint32Array;
  owners: number[];
}

export function buildRing(endpoints: readonly UpstreamEndpoint[], minimumRingSize: number): Ring {
  const total = endpoints.reduce((s, ep) => s + Math.max(1, ep.weight), 0);
  const size = Math.min(MAX_RING_SIZE, Math.max(minimumRingSize, endpoints.length));
  const points: { h: number; owner: number }[] = [];
  endpoints.forEach((ep, owner) => {
    const n = Math.max(1, Math.ceil((size * Math.max(1, ep.weight)) / total));
    const key = endpointKey(ep);
    for (let i = 0; i < n; i++) points.push({ h: hash32(`${key}_${i}`), owner });
  });
  points.sort((a, b) => a.h - b.h || a.owner - b.owner);
  return { hashes: Uint32Array.from(points.map((p) => p.h)), owners: points.map((p) => p.owner) };
}

export class RingHashBalancer implements LoadBalancer {
  private cached: { endpoints: readonly UpstreamEndpoint[]; ring: Ring } | undefined;
  private readonly fallback: RandomBalancer;

  constructor(
    private readonly minimumRingSize: number,
    rng: () => number,
  ) {
    this.fallback = new RandomBalancer(rng);
  }

  pick(endpoints: readonly UpstreamEndpoint[], ctx: PickContext = {}): UpstreamEndpoint | undefined {
    if (endpoints.length === 0) return undefined;
    if (ctx.hashKey === undefined) return this.fallback.pick(endpoints, ctx);
    if (this.cached?.endpoints !== endpoints) this.cached = { endpoints, ring: buildRing(endpoints, this.minimumRingSize) };
    const { hashes, owners } = this.cached.ring;
    const h = hash32(ctx.hashKey);
    let lo = 0;
    let hi = hashes.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (hashes[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    for (let step = 0; step < hashes.length; step++) {
      const ep = endpoints[owners[(lo + step) % hashes.length]!]!;
      if (ctx.exclude?.(ep) !== true) return ep;
    }
    return undefined;
  }

  release(): void {}
}
