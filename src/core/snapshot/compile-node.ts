import type { CompileContext } from "./compile-context.ts";
import type { NodeRef, NodeSnapshot, NodeWorkload, Service } from "./snapshot-model.ts";
import { workloadSpiffeId } from "./workload-placement.ts";
import { registryOrder } from "./service-registry.ts";
import { matchesLabels } from "./label-match.ts";
import { policyForWorkloads, remembered, type PolicySubject } from "./policy-scope.ts";
import { visibleFrom } from "./export-visibility.ts";
import { egressAllows, egressOverlaps, scopeOf, sidecarFor, type SidecarScope } from "./sidecar-scope.ts";

/**
 * One node proxy's snapshot: the WorkloadEntries placed on it with their
 * identities, the services they serve (inbound) and may call (outbound, per
 * `exportTo`), mesh-bound routes and DestinationRules visible to their
 * namespaces, the policies that select them, and the revocation list.
 *
 * The outbound view (services, routes, DestinationRules) holds only what the
 * workloads' Sidecars allow (sidecar-scope.ts): an item is kept when some
 * workload both sees it (`exportTo`) and may reach it through its Sidecar's
 * egress hosts; a workload without a Sidecar sees everything exported to it.
 */
export function compileNodeSnapshot(ctx: CompileContext, node: NodeRef): NodeSnapshot {
  const placed = ctx.placed.get(`${node.cluster}/${node.node}`) ?? [];
  // Distinct (namespace, Sidecar) views of the node's workloads: usually a handful.
  const scopes = new Map<string, SidecarScope>();
  const viewers = new Map<string, { namespace: string; scope: SidecarScope | undefined }>();
  const scopeFor = (ns: string, labels: Readonly<Record<string, string>>): SidecarScope | undefined => {
    const sc = sidecarFor(ctx.sidecars, ns, labels);
    if (sc === undefined) return undefined;
    const key = `${sc.metadata.namespace}/${sc.metadata.name}`;
    let scope = scopes.get(key);
    if (scope === undefined) {
      scope = scopeOf(sc);
      scopes.set(key, scope);
    }
    return scope;
  };
  const sees = (exportTo: readonly string[], ns: string, host: string, allows: (s: SidecarScope, ns: string, host: string) => boolean) => {
    for (const v of viewers.values()) {
      if (visibleFrom(exportTo, v.namespace) && (v.scope === undefined || allows(v.scope, ns, host))) return true;
    }
    return false;
  };

  const workloads: NodeWorkload[] = placed.map((we) => {
    const ns = we.metadata.namespace;
    const serves = [...new Set(ctx.serves.get(`${ns}/${we.metadata.name}`) ?? [])].sort();
    const scope = scopeFor(ns, we.spec.labels ?? {});
    viewers.set(`${ns}|${scope?.source ?? ""}`, { namespace: ns, scope });
    const key = `${serves.join(",")}|${scope?.source ?? ""}|${scope?.outboundTrafficPolicy ?? ""}`;
    const hit = ctx.memo?.nodeWorkloads.get(we);
    if (hit !== undefined && hit.key === key) return hit.workload;
    const w: NodeWorkload = {
      namespace: ns,
      name: we.metadata.name,
      ports: we.spec.ports ?? {},
      labels: we.spec.labels ?? {},
      serviceAccount: we.spec.serviceAccount ?? "default",
      spiffeId: workloadSpiffeId(ctx.trustDomain, ns, we.spec.serviceAccount),
      serves,
    };
    if (we.spec.address !== undefined) w.address = we.spec.address;
    if (scope !== undefined) {
      w.sidecar = scope.source;
      if (scope.outboundTrafficPolicy !== undefined) w.outboundTrafficPolicy = scope.outboundTrafficPolicy;
    }
    ctx.memo?.nodeWorkloads.set(we, { key, workload: w });
    return w;
  });
  const served = new Set(workloads.flatMap((w) => w.serves.map((h) => `${w.namespace}/${h}`)));
  const inbound = servedServices(ctx, served);

  const subjects: PolicySubject[] = workloads.map((w) => ({ key: `${w.namespace}/${w.name}`, namespace: w.namespace, labels: w.labels }));
  const destinationRules = ctx.destinationRules.filter((dr) => {
    if (!sees(dr.exportTo, dr.source.namespace, dr.host, egressOverlaps)) return false;
    const sel = dr.spec.workloadSelector?.matchLabels;
    return sel === undefined || subjects.some((s) => s.namespace === dr.source.namespace && matchesLabels(sel, s.labels));
  });
  const none = workloads.length === 0;
  const viewKey = [...viewers.keys()].sort().join("\n");
  let view = none ? undefined : ctx.outboundViews.get(viewKey);
  if (view === undefined && !none) {
    view = {
      outbound: ctx.services.filter((s) => sees(s.exportTo, s.namespace, s.host, egressAllows)),
      routes: ctx.meshRoutes.filter((r) => sees(r.exportTo, r.source.namespace, r.host, egressAllows)),
    };
    ctx.outboundViews.set(viewKey, view);
  }

  return {
    type: "node",
    trustDomain: ctx.trustDomain,
    node,
    workloads,
    inbound,
    outbound: view?.outbound ?? [],
    routes: view?.routes ?? [],
    destinationRules: none ? [] : destinationRules,
    authorizationPolicies: ctx.authorizationPolicies.flatMap((p) => remembered(ctx, p, policyForWorkloads(p, subjects, ctx.rootNamespace))),
    peerAuthentications: ctx.peerAuthentications.flatMap((p) => remembered(ctx, p, policyForWorkloads(p, subjects, ctx.rootNamespace))),
    requestAuthentications: ctx.requestAuthentications.flatMap((p) => remembered(ctx, p, policyForWorkloads(p, subjects, ctx.rootNamespace))),
    revocations: ctx.revocations,
  };
}

/** The services with a `<namespace>/<host>` in `served`, in registry order (looked up, not scanned: a node serves few). */
function servedServices(ctx: CompileContext, served: ReadonlySet<string>): Service[] {
  const out: Service[] = [];
  for (const key of served) out.push(...(ctx.servicesByKey.get(key) ?? []));
  return out.sort(registryOrder);
}
