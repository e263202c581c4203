/** ROUND_ROBIN: smooth weighted round robin (equal weights give plain rotation). */
import type { UpstreamEndpoint } from "../types.ts";
import { cachedEndpointKey } from "./hash.ts";
import type { LoadBalancer, PickContext } from "./types.ts";

export class RoundRobinBalancer implements LoadBalancer {
  private readonly current = new Map<string, number>();

  pick(endpoints: readonly UpstreamEndpoint[], ctx: PickContext = {}): UpstreamEndpoint | undefined {
    let total = 0;
    let best: UpstreamEndpoint | undefined;
    let bestWeight = -Infinity;
    for (const ep of endpoints) {
      if (ctx.exclude?.(ep) === true) continue;
      const w = Math.max(1, ep.weight);
      const k = cachedEndpointKey(ep);
      const cw = (this.current.get(k) ?? 0) + w;
      this.current.set(k, cw);
      total += w;
      if (cw > bestWeight) {
        best = ep;
        bestWeight = cw;
      }
    }
    if (best !== undefined) this.current.set(cachedEndpointKey(best), bestWeight - total);
    return best;
  }

  release(): void {}
}
