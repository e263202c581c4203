import { fqdn, hostMatches, parseGatewayHost } from "../config/hosts.ts";
import type { CompileContext } from "./compile-context.ts";
import type { CompiledGateway, CompiledHttpRoute, GatewayHostRoutes, GatewaySnapshot, SourceRef } from "./snapshot-model.ts";
import { boundTo, catchAllsLast, httpRoutesFor, type BindTarget } from "./route-binding.ts";
import { policyForGateways, remembered } from "./policy-scope.ts";
import { remember, sameItems } from "./compile-memo.ts";
import { compare } from "./ordering.ts";
import { compileNodeIngress, compileRateLimitPolicies } from "./gateway-edge-extras.ts";
import type { TCPRoute, TLSRoute } from "../config/kinds/virtual-service.ts";

/**
 * The names under which a VS host in `vsNamespace` binds on the gateway
 * (pilot `pickMatchingGatewayHosts`): every server host whose `ns/` prefix
 * admits the VS namespace and that overlaps the VS host, either way round
 * (`host.Name.Matches`). The virtual host takes the more specific of the two:
 * VS `*` on server `shop.example.com` binds as `shop.example.com`, VS
 * `a.example.com` on server `*.example.com` as `a.example.com`
 * (istio-semantics.md §2.17).
 */
export function gatewayBindings(gw: CompiledGateway, vsNamespace: string, host: string): string[] {
  const out = new Set<string>();
  for (const s of gw.servers) {
    for (const entry of s.hosts ?? []) {
      const { namespace, host: pattern } = parseGatewayHost(entry, gw.namespace);
      if (namespace !== "*" && namespace !== vsNamespace) continue;
      if (hostMatches(pattern, host)) out.add(host.toLowerCase());
      else if (hostMatches(host, pattern)) out.add(pattern.toLowerCase());
    }
  }
  return [...out].sort(compare);
}

interface HostAccumulator {
  gateways: Set<string>;
  http: CompiledHttpRoute[];
  tls: (TLSRoute & { source: SourceRef })[];
  tcp: (TCPRoute & { source: SourceRef })[];
}

/**
 * The edge gateway's snapshot: every Gateway, the VirtualServices bound to
 * them merged per host (oldest VS first, catch-all routes moved last), the
 * service registry, DestinationRules and the request authentication and
 * authorization policies that apply to a Gateway.
 */
export function compileGatewaySnapshot(ctx: CompileContext): GatewaySnapshot {
  const memo = ctx.memo;
  const gateways: CompiledGateway[] = ctx.gateways.map((g) =>
    remember(memo?.gateways, g, (r): CompiledGateway => ({ namespace: r.metadata.namespace, name: r.metadata.name, selector: r.spec.selector ?? {}, servers: r.spec.servers ?? [] })),
  );
  const last = memo?.gatewayHosts;
  let hosts: GatewayHostRoutes[];
  if (last !== undefined && sameItems(last.gateways, ctx.gateways) && sameItems(last.virtualServices, ctx.virtualServices)) {
    hosts = last.hosts;
  } else {
    hosts = gatewayHosts(ctx, gateways);
    if (memo !== undefined) memo.gatewayHosts = { gateways: ctx.gateways, virtualServices: ctx.virtualServices, hosts };
  }
  const subjects = gateways.map((g) => ({ namespace: g.namespace, name: g.name, selector: g.selector }));
  // Optional fields appear only when used, so snapshots without them keep their hashes.
  const rateLimitPolicies = compileRateLimitPolicies(ctx, hosts);
  const nodeIngress = compileNodeIngress(ctx);
  return {
    type: "gateway",
    trustDomain: ctx.trustDomain,
    gateways,
    hosts,
    services: ctx.services,
    destinationRules: ctx.destinationRules,
    requestAuthentications: ctx.requestAuthentications.flatMap((p) => remembered(ctx, p, policyForGateways(p, subjects, ctx.rootNamespace))),
    authorizationPolicies: ctx.authorizationPolicies.flatMap((p) => remembered(ctx, p, policyForGateways(p, subjects, ctx.rootNamespace))),
    ...(rateLimitPolicies.length === 0 ? {} : { rateLimitPolicies }),
    ...(Object.keys(nodeIngress).length === 0 ? {} : { nodeIngress }),
  };
}

/** Every VirtualService bound to a Gateway, merged per virtual host: oldest VS first, catch-all routes last. */
function gatewayHosts(ctx: CompileContext, gateways: readonly CompiledGateway[]): GatewayHostRoutes[] {
  const byHost = new Map<string, HostAccumulator>();
  for (const vs of ctx.virtualServices) {
    const ns = vs.metadata.namespace;
    const source: SourceRef = { kind: "VirtualService", namespace: ns, name: vs.metadata.name };
    // Per host: the Gateways admitting it and the union of this VS's routes on them (by route index).
    const perHost = new Map<string, { gateways: string[]; http: Map<number, CompiledHttpRoute>; topBound: boolean }>();
    for (const gw of gateways) {
      const target: BindTarget = { mesh: false, namespace: gw.namespace, name: gw.name };
      const http = httpRoutesFor(vs, target, ctx.domainSuffix);
      const topBound = boundTo(vs, target);
      if (http.length === 0 && !topBound) continue;
      for (const rawHost of vs.spec.hosts ?? []) {
        for (const host of gatewayBindings(gw, ns, fqdn(rawHost, ns, ctx.domainSuffix))) {
          let entry = perHost.get(host);
          if (entry === undefined) {
            entry = { gateways: [], http: new Map(), topBound: false };
            perHost.set(host, entry);
          }
          entry.gateways.push(`${gw.namespace}/${gw.name}`);
          entry.topBound ||= topBound;
          for (const r of http) if (!entry.http.has(r.source.index)) entry.http.set(r.source.index, r);
        }
      }
    }
    for (const [host, entry] of perHost) {
      let acc = byHost.get(host);
      if (acc === undefined) {
        acc = { gateways: new Set(), http: [], tls: [], tcp: [] };
        byHost.set(host, acc);
      }
      for (const g of entry.gateways) acc.gateways.add(g);
      acc.http.push(...[...entry.http.values()].sort((a, b) => a.source.index - b.source.index));
      if (entry.topBound) {
        for (const t of vs.spec.tls ?? []) acc.tls.push({ ...t, source });
        for (const t of vs.spec.tcp ?? []) acc.tcp.push({ ...t, source });
      }
    }
  }
  return [...byHost.entries()]
    .sort(([a], [b]) => compare(a, b))
    .map(([host, acc]) => ({ host, gateways: [...acc.gateways].sort(), http: catchAllsLast(acc.http), tls: acc.tls, tcp: acc.tcp }));
}
