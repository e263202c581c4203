import type { AnalysisContext } from "./context.ts";
import { labelsMatch } from "./context.ts";
import { finding, type Finding } from "./finding.ts";

/**
 * IST0173: a DestinationRule subset whose labels select none of the endpoints
 * the registry lists for its host. Hosts without listed endpoints (DNS
 * resolution, unknown hosts) are not judged.
 */
export function checkSubsetWorkloads(ctx: AnalysisContext): Finding[] {
  const out: Finding[] = [];
  for (const dr of ctx.of("DestinationRule")) {
    const host = ctx.fqdn(dr.spec.host, dr.metadata.namespace);
    if (host.startsWith("*")) continue;
    const endpoints = ctx.endpointsFor(host);
    if (endpoints === undefined) continue;
    dr.spec.subsets?.forEach((s, i) => {
      const labels = s.labels ?? {};
      if (endpoints.some((e) => labelsMatch(labels, e))) return;
      out.push(finding("IST0173", dr, `The Subset ${s.name} defined in the DestinationRule does not select any endpoint of ${host}.`, `spec.subsets[${i}]`));
    });
  }
  return out;
}
