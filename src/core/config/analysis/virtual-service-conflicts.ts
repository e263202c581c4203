import { hostsOverlap, MESH_GATEWAY } from "../hosts.ts";
import type { ResourceOf } from "../resource.ts";
import { exportScopesOverlap, type AnalysisContext } from "./context.ts";
import { finding, type Finding } from "./finding.ts";

type VirtualService = ResourceOf<"VirtualService">;

/**
 * IST0109: VirtualServices bound to the mesh whose hosts overlap (the same
 * name, or a wildcard such as `*.example.com` covering `a.example.com`), seen
 * together by some namespace (`exportTo`). For sidecars that is undefined
 * behaviour (semantics §2.1); on gateways Istio merges them. Reported once per
 * VirtualService, naming every VirtualService it conflicts with.
 */
export function checkConflictingMeshVirtualServices(ctx: AnalysisContext): Finding[] {
  const mesh = ctx.of("VirtualService").filter((vs) => {
    const gateways = vs.spec.gateways ?? [];
    return (vs.spec.hosts ?? []).length > 0 && (gateways.length === 0 || gateways.includes(MESH_GATEWAY));
  });
  const hostsOf = (vs: VirtualService) => (vs.spec.hosts ?? []).map((h) => ctx.fqdn(h, vs.metadata.namespace));
  const scope = (v: VirtualService) => ({ exportTo: v.spec.exportTo, namespace: v.metadata.namespace });
  const out: Finding[] = [];
  for (const vs of mesh) {
    const own = hostsOf(vs);
    const conflicts: { other: VirtualService; host: string; index: number }[] = [];
    for (const other of mesh) {
      if (other === vs || !exportScopesOverlap(scope(vs), scope(other))) continue;
      const theirs = hostsOf(other);
      const index = own.findIndex((h) => theirs.some((t) => hostsOverlap(h, t)));
      if (index >= 0) conflicts.push({ other, host: own[index]!, index });
    }
    if (conflicts.length === 0) continue;
    const names = [vs, ...conflicts.map((c) => c.other)].map((v) => `${v.metadata.namespace}/${v.metadata.name}`).sort();
    const first = conflicts.reduce((a, b) => (b.index < a.index ? b : a));
    const hosts = [...new Set(conflicts.map((c) => c.host))].sort();
    out.push(
      finding(
        "IST0109",
        vs,
        `The VirtualServices ${names.join(",")} associated with mesh gateway define the same host ${hosts.join(",")} which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource.`,
        `spec.hosts[${first.index}]`,
      ),
    );
  }
  return out;
}
