import type { LoadBalancerSettings } from "../../config/kinds/destination-rule.ts";
import type { UpstreamEndpoint } from "../types.ts";

export interface PickContext {
  /** Consistent-hash input (`ForwardPlan.hashKey`). */
  hashKey?: string;
  /** Endpoints the caller excludes (outlier-ejected, tried already). */
  exclude?: (ep: UpstreamEndpoint) => boolean;
}
/** Stateful per-cluster load balancer; the caller keeps one per `ResolvedCluster.name`. */
export interface LoadBalancer {
  pick(endpoints: readonly UpstreamEndpoint[], ctx?: PickContext): UpstreamEndpoint | undefined;
  /** Call when a request picked with `pick` finishes (LEAST_REQUEST counts active requests). */
  release(ep: UpstreamEndpoint): void;
}
export function createLoadBalancer(_settings: LoadBalancerSettings | undefined, _rng: () => number = Math.random): LoadBalancer {
  throw new Error("not implemented");
}
