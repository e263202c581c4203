import type { UpstreamEndpoint } from "../types.ts";

export interface PickContext {
  /** Consistent-hash input (`ForwardPlan.hashKey`); without it a hashing balancer picks at random. */
  hashKey?: string;
  /** Endpoints the caller excludes (outlier-ejected, already tried). */
  exclude?: (ep: UpstreamEndpoint) => boolean;
}

/** Stateful per-cluster load balancer; the caller keeps one per `ResolvedCluster.name`. */
export interface LoadBalancer {
  pick(endpoints: readonly UpstreamEndpoint[], ctx?: PickContext): UpstreamEndpoint | undefined;
  /** Call when a request picked with `pick` finishes (LEAST_REQUEST counts active requests). */
  release(ep: UpstreamEndpoint): void;
}
