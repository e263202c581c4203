import { MESH_GATEWAY } from "../hosts.ts";
import type { ResourceOf } from "../resource.ts";
import { exportScopesOverlap, type AnalysisContext } from "./context.ts";
import { finding, type Finding } from "./finding.ts";

/**
 * IST0109: two VirtualServices bound to the mesh define the same host. For
 * sidecars that is undefined behaviour (semantics §2.1); on gateways Istio merges them.
 */
export function checkConflictingMeshVirtualServices(ctx: AnalysisContext): Finding[] {
  const byHost = new Map<string, ResourceOf<"VirtualService">[]>();
  for (const vs of ctx.of("VirtualService")) {
    const gateways = vs.spec.gateways ?? [];
    if (gateways.length > 0 && !gateways.includes(MESH_GATEWAY)) continue;
    const hosts = new Set((vs.spec.hosts ?? []).map((h) => ctx.fqdn(h, vs.metadata.namespace)));
    for (const h of hosts) byHost.set(h, [...(byHost.get(h) ?? []), vs]);
  }
  const out: Finding[] = [];
  const scope = (v: ResourceOf<"VirtualService">) => ({ exportTo: v.spec.exportTo, namespace: v.metadata.namespace });
  for (const [host, all] of byHost) {
    // Only VirtualServices some namespace sees together conflict (exportTo, semantics §2.19).
    const list = all.filter((a) => all.some((b) => b !== a && exportScopesOverlap(scope(a), scope(b))));
    if (list.length < 2) continue;
    const names = list.map((v) => `${v.metadata.namespace}/${v.metadata.name}`).join(",");
    for (const vs of list) {
      const i = (vs.spec.hosts ?? []).findIndex((h) => ctx.fqdn(h, vs.metadata.namespace) === host);
      out.push(
        finding(
          "IST0109",
          vs,
          `The VirtualServices ${names} associated with mesh gateway define the same host ${host} which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.`,
          `spec.hosts[${i}]`,
        ),
      );
    }
  }
  return out;
}
