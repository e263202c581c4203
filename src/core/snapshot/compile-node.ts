import { fqdn } from "../config/hosts.ts";
import type { CompileContext } from "./compile-context.ts";
import type { MeshRouteTable, NodeRef, NodeSnapshot, NodeWorkload, Service } from "./snapshot-model.ts";
import { placementOf, workloadSpiffeId } from "./workload-placement.ts";
import { resolveExportTo, visibleFrom } from "./export-visibility.ts";
import { matchesLabels } from "./label-match.ts";
import { boundTo, httpRoutesFor } from "./route-binding.ts";
import { policyForWorkloads, type PolicySubject } from "./policy-scope.ts";
import { compare } from "./ordering.ts";

/**
 * One node proxy's snapshot: the WorkloadEntries placed on it with their
 * identities, the services they serve (inbound) and may call (outbound, per
 * `exportTo`), mesh-bound routes and DestinationRules visible to their
 * namespaces, the policies that select them, and the revocation list.
 */
export function compileNodeSnapshot(ctx: CompileContext, node: NodeRef): NodeSnapshot {
  const placed = ctx.workloadEntries.filter((we) => {
    const p = placementOf(we);
    return p !== undefined && p.cluster === node.cluster && p.node === node.node;
  });
  const namespaces = new Set(placed.map((we) => we.metadata.namespace));
  const visible = (exportTo: readonly string[]) => [...namespaces].some((ns) => visibleFrom(exportTo, ns));

  const inbound = new Map<string, Service>();
  const workloads: NodeWorkload[] = placed.map((we) => {
    const ns = we.metadata.namespace;
    const labels = we.spec.labels ?? {};
    const serves: string[] = [];
    for (const se of ctx.serviceEntries) {
      if (se.metadata.namespace !== ns || se.spec.workloadSelector === undefined) continue;
      if (!matchesLabels(se.spec.workloadSelector.labels, labels)) continue;
      for (const h of se.spec.hosts ?? []) serves.push(fqdn(h, ns, ctx.domainSuffix));
    }
    const w: NodeWorkload = {
      namespace: ns,
      name: we.metadata.name,
      ports: we.spec.ports ?? {},
      labels,
      serviceAccount: we.spec.serviceAccount ?? "default",
      spiffeId: workloadSpiffeId(ctx.trustDomain, ns, we.spec.serviceAccount),
      serves: [...new Set(serves)].sort(),
    };
    if (we.spec.address !== undefined) w.address = we.spec.address;
    return w;
  });
  const served = new Set(workloads.flatMap((w) => w.serves.map((h) => `${w.namespace}/${h}`)));
  for (const s of ctx.services) if (served.has(`${s.namespace}/${s.host}`)) inbound.set(`${s.namespace}/${s.host}/${s.source.name}`, s);

  const routes: MeshRouteTable[] = [];
  for (const vs of ctx.virtualServices) {
    const exportTo = resolveExportTo(vs.spec.exportTo, vs.metadata.namespace);
    if (!visible(exportTo)) continue;
    const http = httpRoutesFor(vs, { mesh: true }, ctx.domainSuffix);
    const topBound = boundTo(vs, { mesh: true });
    if (http.length === 0 && !topBound) continue;
    const source = { kind: "VirtualService" as const, namespace: vs.metadata.namespace, name: vs.metadata.name };
    for (const h of vs.spec.hosts ?? []) {
      routes.push({
        host: fqdn(h, vs.metadata.namespace, ctx.domainSuffix),
        source,
        exportTo,
        http,
        tls: topBound ? (vs.spec.tls ?? []) : [],
        tcp: topBound ? (vs.spec.tcp ?? []) : [],
      });
    }
  }
  routes.sort((a, b) => compare(a.host, b.host));

  const subjects: PolicySubject[] = workloads.map((w) => ({ key: `${w.namespace}/${w.name}`, namespace: w.namespace, labels: w.labels }));
  const destinationRules = ctx.destinationRules.filter((dr) => {
    if (!visible(dr.exportTo)) return false;
    const sel = dr.spec.workloadSelector?.matchLabels;
    return sel === undefined || subjects.some((s) => s.namespace === dr.source.namespace && matchesLabels(sel, s.labels));
  });

  return {
    type: "node",
    trustDomain: ctx.trustDomain,
    node,
    workloads,
    inbound: [...inbound.values()],
    outbound: workloads.length === 0 ? [] : ctx.services.filter((s) => visible(s.exportTo)),
    routes,
    destinationRules,
    authorizationPolicies: ctx.authorizationPolicies.flatMap((p) => policyForWorkloads(p, subjects, ctx.rootNamespace) ?? []),
    peerAuthentications: ctx.peerAuthentications.flatMap((p) => policyForWorkloads(p, subjects, ctx.rootNamespace) ?? []),
    requestAuthentications: ctx.requestAuthentications.flatMap((p) => policyForWorkloads(p, subjects, ctx.rootNamespace) ?? []),
    revocations: ctx.revocations,
  };
}
