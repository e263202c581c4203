/**
 * Per-cluster runtime state the data plane keeps across requests: the load balancer, the
 * outlier detector and the circuit breaker of one `ResolvedCluster` (`outbound|port|subset|host`).
 *
 * State survives snapshot swaps while the cluster's traffic policy is unchanged (an ejected
 * endpoint stays ejected through an unrelated config change) and starts afresh when it changes.
 */
import type { Clock } from "../../core/clock.ts";
import { createLoadBalancer, type LoadBalancer, type ResolvedCluster } from "../../core/routing/index.ts";
import { CircuitBreaker, poolLimits } from "./circuit-breaker.ts";
import { OutlierDetector, outlierSettings, type EjectionEvent } from "./outlier-detector.ts";

export interface ClusterRuntime {
  name: string;
  lb: LoadBalancer;
  breaker: CircuitBreaker;
  /** Absent when the DestinationRule has no `outlierDetection` (Istio: off by default). */
  outlier?: OutlierDetector;
}

export class ClusterStates {
  private readonly byName = new Map<string, { policyKey: string; runtime: ClusterRuntime }>();
  private readonly byObject = new WeakMap<ResolvedCluster, ClusterRuntime>();

  constructor(
    private readonly clock: Clock,
    private readonly onEject?: (cluster: string, e: EjectionEvent) => void,
  ) {}

  /** The runtime of `cluster`; cheap after the first call for a compiled cluster object. */
  of(cluster: ResolvedCluster): ClusterRuntime {
    const cached = this.byObject.get(cluster);
    if (cached !== undefined) return cached;
    const policyKey = JSON.stringify(cluster.trafficPolicy);
    const known = this.byName.get(cluster.name);
    let runtime: ClusterRuntime;
    if (known !== undefined && known.policyKey === policyKey) {
      runtime = known.runtime;
    } else {
      const tp = cluster.trafficPolicy;
      runtime = {
        name: cluster.name,
        lb: createLoadBalancer(tp.loadBalancer),
        breaker: new CircuitBreaker(poolLimits(tp.connectionPool)),
      };
      if (tp.outlierDetection !== undefined) {
        runtime.outlier = new OutlierDetector(outlierSettings(tp.outlierDetection), this.clock, (e) => this.onEject?.(cluster.name, e));
      }
      this.byName.set(cluster.name, { policyKey, runtime });
    }
    this.byObject.set(cluster, runtime);
    return runtime;
  }

  /** For /config_dump. */
  dump(): { cluster: string; pool: ReturnType<CircuitBreaker["stats"]>; ejected: ReturnType<OutlierDetector["snapshot"]> }[] {
    return [...this.byName.values()].map(({ runtime }) => ({ cluster: runtime.name, pool: runtime.breaker.stats(), ejected: runtime.outlier?.snapshot() ?? [] }));
  }
}
