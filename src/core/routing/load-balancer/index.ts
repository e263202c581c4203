/**
 * Load balancers per DestinationRule `loadBalancer`: ROUND_ROBIN,
 * LEAST_REQUEST (default, also for UNSPECIFIED and the deprecated
 * LEAST_CONN), RANDOM, and `consistentHash` on a ring (default) or Maglev.
 * PASSTHROUGH has no endpoint list to balance and picks at random.
 * Pure code with state; keep one balancer per cluster.
 */
import type { LoadBalancerSettings } from "../../config/kinds/destination-rule.ts";
import { LeastRequestBalancer } from "./least-request.ts";
import { RandomBalancer } from "./random.ts";
import { RoundRobinBalancer } from "./round-robin.ts";
import { RingHashBalancer } from "./ring-hash.ts";
import { DEFAULT_MAGLEV_TABLE_SIZE, MaglevBalancer } from "./maglev.ts";
import type { LoadBalancer } from "./types.ts";

export type { LoadBalancer, PickContext } from "./types.ts";
export { setCookieHeader, cookieValue } from "./hash-policy.ts";

const DEFAULT_MINIMUM_RING_SIZE = 1024;

/**
 * @example
 * const lb = createLoadBalancer(plan.cluster.trafficPolicy.loadBalancer);
 * const ep = lb.pick(plan.cluster.endpoints, { hashKey: plan.hashKey, exclude: (e) => ejected.has(e) });
 * // ... when the request ends:
 * if (ep) lb.release(ep);
 */
export function createLoadBalancer(settings: LoadBalancerSettings | undefined, rng: () => number = Math.random): LoadBalancer {
  const ch = settings?.consistentHash;
  if (ch !== undefined) {
    if (ch.maglev !== undefined) return new MaglevBalancer(ch.maglev.tableSize ?? DEFAULT_MAGLEV_TABLE_SIZE, rng);
    return new RingHashBalancer(ch.ringHash?.minimumRingSize ?? ch.minimumRingSize ?? DEFAULT_MINIMUM_RING_SIZE, rng);
  }
  switch (settings?.simple) {
    case "ROUND_ROBIN":
      return new RoundRobinBalancer();
    case "RANDOM":
    case "PASSTHROUGH":
      return new RandomBalancer(rng);
    default:
      return new LeastRequestBalancer(rng);
  }
}
