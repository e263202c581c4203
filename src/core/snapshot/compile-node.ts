import type { CompileContext } from "./compile-context.ts";
import type { NodeRef, NodeSnapshot, NodeWorkload } from "./snapshot-model.ts";
import { workloadSpiffeId } from "./workload-placement.ts";
import { matchesLabels } from "./label-match.ts";
import { policyForWorkloads, type PolicySubject } from "./policy-scope.ts";

/**
 * One node proxy's snapshot: the WorkloadEntries placed on it with their
 * identities, the services they serve (inbound) and may call (outbound, per
 * `exportTo`), mesh-bound routes and DestinationRules visible to their
 * namespaces, the policies that select them, and the revocation list.
 */
export function compileNodeSnapshot(ctx: CompileContext, node: NodeRef): NodeSnapshot {
  const placed = ctx.placed.get(`${node.cluster}/${node.node}`) ?? [];
  const namespaces = new Set(placed.map((we) => we.metadata.namespace));
  const visible = (exportTo: readonly string[]) => exportTo.includes("*") || exportTo.some((ns) => namespaces.has(ns));

  const workloads: NodeWorkload[] = placed.map((we) => {
    const ns = we.metadata.namespace;
    const w: NodeWorkload = {
      namespace: ns,
      name: we.metadata.name,
      ports: we.spec.ports ?? {},
      labels: we.spec.labels ?? {},
      serviceAccount: we.spec.serviceAccount ?? "default",
      spiffeId: workloadSpiffeId(ctx.trustDomain, ns, we.spec.serviceAccount),
      serves: [...new Set(ctx.serves.get(`${ns}/${we.metadata.name}`) ?? [])].sort(),
    };
    if (we.spec.address !== undefined) w.address = we.spec.address;
    return w;
  });
  const served = new Set(workloads.flatMap((w) => w.serves.map((h) => `${w.namespace}/${h}`)));
  const inbound = ctx.services.filter((s) => served.has(`${s.namespace}/${s.host}`));

  const subjects: PolicySubject[] = workloads.map((w) => ({ key: `${w.namespace}/${w.name}`, namespace: w.namespace, labels: w.labels }));
  const destinationRules = ctx.destinationRules.filter((dr) => {
    if (!visible(dr.exportTo)) return false;
    const sel = dr.spec.workloadSelector?.matchLabels;
    return sel === undefined || subjects.some((s) => s.namespace === dr.source.namespace && matchesLabels(sel, s.labels));
  });
  const none = workloads.length === 0;

  return {
    type: "node",
    trustDomain: ctx.trustDomain,
    node,
    workloads,
    inbound,
    outbound: none ? [] : ctx.services.filter((s) => visible(s.exportTo)),
    routes: none ? [] : ctx.meshRoutes.filter((r) => visible(r.exportTo)),
    destinationRules: none ? [] : destinationRules,
    authorizationPolicies: ctx.authorizationPolicies.flatMap((p) => policyForWorkloads(p, subjects, ctx.rootNamespace) ?? []),
    peerAuthentications: ctx.peerAuthentications.flatMap((p) => policyForWorkloads(p, subjects, ctx.rootNamespace) ?? []),
    requestAuthentications: ctx.requestAuthentications.flatMap((p) => policyForWorkloads(p, subjects, ctx.rootNamespace) ?? []),
    revocations: ctx.revocations,
  };
}
