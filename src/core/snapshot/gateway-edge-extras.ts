/**
 * Gateway-only snapshot pieces owned by the edge gateway (H3): RateLimitPolicies resolved to the
 * VirtualService routes they limit, and the edge-ingress address of every node proxy that runs a
 * workload the gateway may call.
 */
import type { CompileContext } from "./compile-context.ts";
import type { CompiledRateLimitPolicy, GatewayHostRoutes, NodeIngress } from "./snapshot-model.ts";
import { nodeSpiffeId } from "./workload-placement.ts";
import type { RateLimitPolicyResource } from "../config/resource.ts";

/** WorkloadEntry annotation naming its node proxy's edge-ingress address (`host:port` or an http(s) URL). */
export const EDGE_INGRESS_ANNOTATION = "strait.io/edge-ingress";

/**
 * RateLimitPolicies with their targets resolved: a VirtualService target (optionally one named
 * route) stays as is; a Gateway target becomes every VirtualService bound to a host of that Gateway.
 */
export function compileRateLimitPolicies(ctx: CompileContext, hosts: readonly GatewayHostRoutes[]): CompiledRateLimitPolicy[] {
  return ctx.rateLimitPolicies.map((p) => {
    const hit = ctx.memo?.rateLimitPolicies.get(p);
    if (hit !== undefined && hit.hosts === hosts) return hit.compiled;
    const compiled = compileRateLimitPolicy(p, hosts);
    ctx.memo?.rateLimitPolicies.set(p, { hosts, compiled });
    return compiled;
  });
}

function compileRateLimitPolicy(p: RateLimitPolicyResource, hosts: readonly GatewayHostRoutes[]): CompiledRateLimitPolicy {
  const ns = p.metadata.namespace;
  const routes = new Map<string, { virtualService: string; route?: string }>();
  for (const t of p.spec.targetRefs) {
    if (t.kind === "VirtualService") {
      const vs = `${ns}/${t.name}`;
      routes.set(`${vs}#${t.sectionName ?? ""}`, t.sectionName === undefined ? { virtualService: vs } : { virtualService: vs, route: t.sectionName });
      continue;
    }
    const gw = `${ns}/${t.name}`;
    for (const h of hosts) {
      if (!h.gateways.includes(gw)) continue;
      for (const r of h.http) {
        const vs = `${r.source.namespace}/${r.source.name}`;
        routes.set(`${vs}#`, { virtualService: vs });
      }
    }
  }
  return {
    source: { kind: "RateLimitPolicy", namespace: ns, name: p.metadata.name },
    routes: [...routes.values()],
    rules: p.spec.rateLimit.global.rules,
  };
}

/**
 * `<cluster>/<node>` -> edge ingress, from the `strait.io/edge-ingress` annotation of the
 * WorkloadEntries placed on each node (the oldest entry that sets it wins).
 */
export function compileNodeIngress(ctx: CompileContext): Record<string, NodeIngress> {
  const out: Record<string, NodeIngress> = {};
  for (const [key, entries] of [...ctx.placed.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const address = entries.map((we) => we.metadata.annotations?.[EDGE_INGRESS_ANNOTATION]).find((a) => a !== undefined && a !== "");
    if (address === undefined) continue;
    const slash = key.indexOf("/");
    out[key] = { address, spiffeId: nodeSpiffeId(ctx.trustDomain, key.slice(0, slash), key.slice(slash + 1)) };
  }
  return out;
}
