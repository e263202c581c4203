import type { AnyResource } from "../resource.ts";
import type { AnalysisContext } from "./context.ts";
import { finding, type Finding } from "./finding.ts";

/**
 * IST0127: a policy (AuthorizationPolicy, PeerAuthentication,
 * RequestAuthentication) or a DestinationRule `workloadSelector` selects no
 * workload. Workloads are WorkloadEntries, ServiceEntry endpoints and the
 * gateway workloads named by Gateway selectors.
 */
export function checkWorkloadSelectors(ctx: AnalysisContext): Finding[] {
  const out: Finding[] = [];
  for (const r of ctx.resources) {
    const sel = selectorOf(r);
    if (sel === undefined || Object.keys(sel.labels).length === 0) continue;
    // PeerAuthentication selectors in the root namespace are ignored altogether (STR0004 says so).
    if (r.kind === "PeerAuthentication" && r.metadata.namespace === ctx.rootNamespace) continue;
    if (ctx.workloadsSelected(r.metadata.namespace, sel.labels).length > 0) continue;
    const text = Object.entries(sel.labels)
      .map(([k, v]) => `${k}=${v}`)
      .join(",");
    out.push(finding("IST0127", r, `No matching workloads for this resource with the following labels: ${text}`, sel.field));
  }
  return out;
}

function selectorOf(r: AnyResource): { labels: Record<string, string>; field: string } | undefined {
  switch (r.kind) {
    case "AuthorizationPolicy":
    case "PeerAuthentication":
    case "RequestAuthentication":
      return r.spec.selector?.matchLabels === undefined ? undefined : { labels: r.spec.selector.matchLabels, field: "spec.selector.matchLabels" };
    case "DestinationRule":
      return r.spec.workloadSelector?.matchLabels === undefined
        ? undefined
        : { labels: r.spec.workloadSelector.matchLabels, field: "spec.workloadSelector.matchLabels" };
    default:
      return undefined;
  }
}

/** STR0004: a PeerAuthentication with a selector in the root namespace is ignored (semantics §2.14). */
export function checkRootNamespacePeerAuthentication(ctx: AnalysisContext): Finding[] {
  return ctx
    .of("PeerAuthentication")
    .filter((pa) => pa.metadata.namespace === ctx.rootNamespace && Object.keys(pa.spec.selector?.matchLabels ?? {}).length > 0)
    .map((pa) =>
      finding(
        "STR0004",
        pa,
        `PeerAuthentication ${pa.metadata.name} has a workload selector in the root namespace ${ctx.rootNamespace}; selector policies there are ignored. Move it to the workloads' namespace or drop the selector.`,
        "spec.selector",
      ),
    );
}
