/**
 * `gateway.strait.dev` RateLimitPolicy: global rate limits on the edge gateway, modelled on
 * Envoy Gateway's `BackendTrafficPolicy.spec.rateLimit` (type Global) with targets in Istio
 * terms (a VirtualService, optionally one of its named http routes, or a Gateway).
 *
 * @example
 * apiVersion: gateway.strait.dev/v1alpha1
 * kind: RateLimitPolicy
 * metadata: { name: per-client, namespace: shop }
 * spec:
 *   targetRefs: [{ kind: VirtualService, name: shop, sectionName: api }]
 *   rateLimit:
 *     type: Global
 *     global:
 *       rules:
 *         - clientSelectors: [{ headers: [{ name: x-user-id, type: Distinct }] }]
 *           limit: { requests: 10, unit: Minute }
 */
export interface RateLimitPolicySpec {
  /** What the limits apply to; at least one. */
  targetRefs: RateLimitTargetRef[];
  rateLimit: RateLimitSpec;
}

export interface RateLimitTargetRef {
  /** `VirtualService` (its http routes on the gateway) or `Gateway` (every route served through it). */
  kind: "VirtualService" | "Gateway";
  /** Group is optional (`networking.istio.io`). */
  group?: string;
  name: string;
  /** Same namespace as the policy when omitted; only the policy's own namespace is allowed. */
  namespace?: string;
  /** Name of one http route (`http[].name`) of the VirtualService. */
  sectionName?: string;
}

export interface RateLimitSpec {
  /** Only `Global` (counted across every gateway isolate by a Durable Object) is supported. */
  type: "Global";
  global: { rules: RateLimitRule[] };
}

export interface RateLimitRule {
  /** All selectors must match (ANDed); none = every request shares one bucket. */
  clientSelectors?: RateLimitClientSelector[];
  limit: { requests: number; unit: RateLimitUnit };
}

export type RateLimitUnit = "Second" | "Minute" | "Hour";

export interface RateLimitClientSelector {
  /** Header conditions, ANDed. `Exact`: the value must equal; `Distinct`: one bucket per value (header required). */
  headers?: { name: string; type?: "Exact" | "Distinct"; value?: string; invert?: boolean }[];
  /** `Exact`: clients inside the CIDR share a bucket; `Distinct`: one bucket per client IP inside it. */
  sourceCIDR?: { type?: "Exact" | "Distinct"; value: string };
}
