/**
 * LEAST_REQUEST (Istio's default): power of two choices. Two distinct
 * eligible endpoints are drawn at random and the one with fewer active
 * requests wins. `pick` counts a request as active until `release`.
 */
import type { UpstreamEndpoint } from "../types.ts";
import { cachedEndpointKey } from "./hash.ts";
import { eligible } from "./random.ts";
import type { LoadBalancer, PickContext } from "./types.ts";

export class LeastRequestBalancer implements LoadBalancer {
  private readonly active = new Map<string, number>();

  constructor(private readonly rng: () => number) {}

  activeRequests(ep: UpstreamEndpoint): number {
    return this.active.get(cachedEndpointKey(ep)) ?? 0;
  }

  pick(endpoints: readonly UpstreamEndpoint[], ctx: PickContext = {}): UpstreamEndpoint | undefined {
    const pool = eligible(endpoints, ctx);
    let chosen: UpstreamEndpoint | undefined;
    if (pool.length <= 1) chosen = pool[0];
    else {
      const i = Math.floor(this.rng() * pool.length) % pool.length;
      let j = Math.floor(this.rng() * (pool.length - 1)) % (pool.length - 1);
      if (j >= i) j++;
      const a = pool[i]!;
      const b = pool[j]!;
      chosen = this.activeRequests(b) < this.activeRequests(a) ? b : a;
    }
    if (chosen !== undefined) this.active.set(cachedEndpointKey(chosen), this.activeRequests(chosen) + 1);
    return chosen;
  }

  release(ep: UpstreamEndpoint): void {
    const k = cachedEndpointKey(ep);
    const n = this.active.get(k) ?? 0;
    if (n <= 1) this.active.delete(k);
    else this.active.set(k, n - 1);
  }
}
