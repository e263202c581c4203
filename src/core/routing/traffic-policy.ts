/**
 * DestinationRule traffic policy for one port and subset, merged the way
 * Istio does (pilot `MergeTrafficPolicy`, istio-semantics.md §2.10): the
 * top-level port-level settings for the port replace the top-level policy's
 * loadBalancer, connectionPool, outlierDetection and tls (omitted ones fall
 * back to defaults, not to the top level); then each field a subset policy
 * sets replaces the merged one, and the subset's own port-level settings for
 * the port replace those four fields again.
 */
import type { PortTrafficPolicy, TrafficPolicy } from "../config/kinds/destination-rule.ts";
import type { EffectiveTrafficPolicy } from "./types.ts";

function portLevel(policy: TrafficPolicy | undefined, port: number | undefined): PortTrafficPolicy | undefined {
  if (policy === undefined || port === undefined) return undefined;
  return policy.portLevelSettings?.find((p) => p.port?.number === port);
}

function copyFields(p: TrafficPolicy | PortTrafficPolicy | undefined): EffectiveTrafficPolicy {
  const out: EffectiveTrafficPolicy = {};
  if (p?.loadBalancer !== undefined) out.loadBalancer = p.loadBalancer;
  if (p?.connectionPool !== undefined) out.connectionPool = p.connectionPool;
  if (p?.outlierDetection !== undefined) out.outlierDetection = p.outlierDetection;
  if (p?.tls !== undefined) out.tls = p.tls;
  return out;
}

/** One policy with its port-level settings for `port` applied. */
function atPort(policy: TrafficPolicy | undefined, port: number | undefined): EffectiveTrafficPolicy {
  const pl = portLevel(policy, port);
  return pl === undefined ? copyFields(policy) : copyFields(pl);
}

export function mergeTrafficPolicy(top: TrafficPolicy | undefined, subset: TrafficPolicy | undefined, port: number | undefined): EffectiveTrafficPolicy {
  const merged = atPort(top, port);
  if (subset === undefined) return merged;
  const s = copyFields(subset);
  const out: EffectiveTrafficPolicy = { ...merged, ...s };
  const pl = portLevel(subset, port);
  if (pl !== undefined) {
    delete out.loadBalancer;
    delete out.connectionPool;
    delete out.outlierDetection;
    delete out.tls;
    Object.assign(out, copyFields(pl));
  }
  return out;
}
