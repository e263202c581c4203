import type { ResourceOf } from "../resource.ts";
import { labelsMatch, type AnalysisContext, type Workload } from "./context.ts";
import { finding, type Finding } from "./finding.ts";

type Sidecar = ResourceOf<"Sidecar">;

/**
 * Sidecar scoping (semantics §2.16), as Istio's SidecarSelectorAnalyzer:
 * - IST0127: a Sidecar's workloadSelector selects no workload in its namespace;
 * - IST0123: several Sidecars without a selector in one namespace (which one applies is undefined);
 * - IST0116: several Sidecars with selectors pick the same workload.
 */
export function checkSidecarSelectors(ctx: AnalysisContext): Finding[] {
  const out: Finding[] = [];
  const byNamespace = new Map<string, Sidecar[]>();
  for (const sc of ctx.of("Sidecar")) byNamespace.set(sc.metadata.namespace, [...(byNamespace.get(sc.metadata.namespace) ?? []), sc]);
  for (const [ns, sidecars] of byNamespace) {
    const selectorless = sidecars.filter((s) => Object.keys(s.spec.workloadSelector?.labels ?? {}).length === 0);
    if (selectorless.length > 1) {
      const names = selectorless.map((s) => `${ns}/${s.metadata.name}`).join(",");
      for (const s of selectorless) {
        out.push(finding("IST0123", s, `The Sidecars [${names}] in namespace ${ns} have no workload selector: only one namespace-wide Sidecar is allowed, which one applies is undefined.`));
      }
    }
    const selecting = sidecars.filter((s) => Object.keys(s.spec.workloadSelector?.labels ?? {}).length > 0);
    const picked = new Map<Sidecar, Workload[]>();
    for (const s of selecting) {
      const labels = s.spec.workloadSelector!.labels!;
      const workloads = ctx.workloads.filter((w) => !w.anyNamespace && w.namespace === ns && labelsMatch(labels, w.labels));
      picked.set(s, workloads);
      if (workloads.length === 0) {
        const text = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(",");
        out.push(finding("IST0127", s, `No matching workloads for this resource with the following labels: ${text}`, "spec.workloadSelector.labels"));
      }
    }
    for (const s of selecting) {
      const others = selecting.filter((o) => o !== s && picked.get(o)!.some((w) => picked.get(s)!.includes(w)));
      if (others.length === 0) continue;
      const names = [s, ...others].map((o) => `${ns}/${o.metadata.name}`).sort().join(",");
      out.push(finding("IST0116", s, `The Sidecars [${names}] select the same workloads: which one applies to them is undefined.`, "spec.workloadSelector"));
    }
  }
  return out;
}
