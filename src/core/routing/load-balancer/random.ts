/** RANDOM: weighted random choice among the eligible endpoints. */
import type { UpstreamEndpoint } from "../types.ts";
import type { LoadBalancer, PickContext } from "./types.ts";

export function eligible(endpoints: readonly UpstreamEndpoint[], ctx: PickContext): readonly UpstreamEndpoint[] {
  return ctx.exclude === undefined ? endpoints : endpoints.filter((ep) => !ctx.exclude!(ep));
}

export function weightedRandom(endpoints: readonly UpstreamEndpoint[], rng: () => number): UpstreamEndpoint | undefined {
  if (endpoints.length <= 1) return endpoints[0];
  let total = 0;
  for (const ep of endpoints) total += Math.max(1, ep.weight);
  let r = rng() * total;
  for (const ep of endpoints) {
    r -= Math.max(1, ep.weight);
    if (r < 0) return ep;
  }
  return endpoints[endpoints.length - 1];
}

export class RandomBalancer implements LoadBalancer {
  constructor(private readonly rng: () => number) {}

  pick(endpoints: readonly UpstreamEndpoint[], ctx: PickContext = {}): UpstreamEndpoint | undefined {
    return weightedRandom(eligible(endpoints, ctx), this.rng);
  }

  release(): void {}
}
