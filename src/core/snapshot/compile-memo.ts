/**
 * Memory kept between compiles, so a publisher that compiles again after a small change rebuilds
 * only what the change touched.
 *
 * Every memo is keyed by the identity of the input objects (resources are immutable values: a
 * changed resource is a new object) plus whatever else the output depends on. A hit returns the
 * very object built last time, so the snapshot splitter's per-object JSON cache and chunk-hash
 * cache (snapshot-layout.ts) hit as well: an unchanged service is neither rebuilt, nor
 * serialised, nor hashed again. Entries of replaced resources are dropped with them (WeakMap).
 *
 * A memo belongs to one trust domain, root namespace and domain suffix; `prepareContext`
 * ignores a memo made for others. The memo holds no I/O and no clock: the same inputs compile to
 * the same snapshots with or without it (test/core/snapshot/compile-memo.test.ts).
 */
import type { DestinationRuleResource, GatewayResource, RateLimitPolicyResource, ServiceEntryResource, VirtualServiceResource, WorkloadEntryResource } from "../config/resource.ts";
import type { CompiledDestinationRule, CompiledGateway, CompiledPolicy, CompiledRateLimitPolicy, GatewayHostRoutes, MeshRouteTable, NodeWorkload, Revocation, Service } from "./snapshot-model.ts";

/** At most this many compiled variants (distinct `appliesTo` sets) are kept per policy object. */
const MAX_POLICY_VARIANTS = 1024;

export interface CompileMemoScope {
  trustDomain: string;
  rootNamespace: string;
  domainSuffix: string;
}

export class CompileMemo {
  /** ServiceEntry -> the workloads it selected and the services (one per host) built from both. */
  readonly services = new WeakMap<ServiceEntryResource, { selected: readonly WorkloadEntryResource[]; services: readonly Service[] }>();
  /** VirtualService -> its mesh route tables (one per host). */
  readonly meshRoutes = new WeakMap<VirtualServiceResource, readonly MeshRouteTable[]>();
  readonly destinationRules = new WeakMap<DestinationRuleResource, CompiledDestinationRule>();
  readonly gateways = new WeakMap<GatewayResource, CompiledGateway>();
  /** WorkloadEntry -> its node view, valid while `key` (served hosts, Sidecar) is unchanged. */
  readonly nodeWorkloads = new WeakMap<WorkloadEntryResource, { key: string; workload: NodeWorkload }>();
  /** Policy resource -> compiled variants by scope and `appliesTo`. */
  private readonly policies = new WeakMap<object, Map<string, CompiledPolicy<unknown>>>();
  /** The gateway's host table, valid while the Gateways and VirtualServices are the same objects. */
  gatewayHosts: { gateways: readonly GatewayResource[]; virtualServices: readonly VirtualServiceResource[]; hosts: GatewayHostRoutes[] } | undefined;
  readonly rateLimitPolicies = new WeakMap<RateLimitPolicyResource, { hosts: readonly GatewayHostRoutes[]; compiled: CompiledRateLimitPolicy }>();
  /** Revocations by `spiffeId|revokedAt`, so an unchanged deny list keeps its items. */
  private revocationItems = new Map<string, Revocation>();

  constructor(readonly scope: CompileMemoScope) {}

  /** True when this memo was made for compiles in `scope`. */
  fits(scope: CompileMemoScope): boolean {
    return this.scope.trustDomain === scope.trustDomain && this.scope.rootNamespace === scope.rootNamespace && this.scope.domainSuffix === scope.domainSuffix;
  }

  /** The compiled policy for `resource` with exactly this scope and subject list: last compile's object when equal. */
  policy<S>(resource: object, compiled: CompiledPolicy<S>): CompiledPolicy<S> {
    const key = `${compiled.scope}\n${compiled.appliesTo.join("\n")}`;
    let variants = this.policies.get(resource);
    if (variants === undefined) {
      variants = new Map();
      this.policies.set(resource, variants);
    }
    const hit = variants.get(key) as CompiledPolicy<S> | undefined;
    if (hit !== undefined && hit.spec === compiled.spec) return hit;
    if (variants.size >= MAX_POLICY_VARIANTS) variants.clear();
    variants.set(key, compiled as CompiledPolicy<unknown>);
    return compiled;
  }

  /** The deny list with the previous compile's item objects where nothing changed; entries no longer listed are forgotten. */
  revocations(list: readonly Revocation[]): Revocation[] {
    const next = new Map<string, Revocation>();
    const out = list.map((r) => {
      const key = `${r.spiffeId}|${r.revokedAt}`;
      const item = this.revocationItems.get(key) ?? next.get(key) ?? { spiffeId: r.spiffeId, revokedAt: r.revokedAt };
      next.set(key, item);
      return item;
    });
    this.revocationItems = next;
    return out;
  }
}

/** `build(key)`, or what it built for `key` last time when a memo keeps `map`. */
export function remember<K extends object, V>(map: WeakMap<K, V> | undefined, key: K, build: (key: K) => V): V {
  const hit = map?.get(key);
  if (hit !== undefined) return hit;
  const value = build(key);
  map?.set(key, value);
  return value;
}

/** True when two arrays hold the same objects in the same order. */
export function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
