import { hostsOverlap, parseGatewayHost } from "../hosts.ts";
import type { AnalysisContext } from "./context.ts";
import { finding, type Finding } from "./finding.ts";

/**
 * IST0145: two Gateways with the same selector put servers on the same port
 * with overlapping hosts, so which one wins is undefined.
 */
export function checkConflictingGateways(ctx: AnalysisContext): Finding[] {
  const out: Finding[] = [];
  const gateways = ctx.of("Gateway");
  gateways.forEach((a, ai) => {
    gateways.forEach((b, bi) => {
      if (ai === bi) return;
      if (stableSelector(a.spec.selector) !== stableSelector(b.spec.selector)) return;
      for (const sa of a.spec.servers) {
        for (const sb of b.spec.servers) {
          if (sa.port.number !== sb.port.number) continue;
          const overlap = sa.hosts.filter((ha) =>
            sb.hosts.some((hb) => hostsOverlap(parseGatewayHost(ha, a.metadata.namespace).host, parseGatewayHost(hb, b.metadata.namespace).host)),
          );
          if (overlap.length === 0) continue;
          out.push(
            finding(
              "IST0145",
              a,
              `Conflict with gateways ${b.metadata.namespace}/${b.metadata.name} (workload selector ${stableSelector(a.spec.selector)}, port ${sa.port.number}, hosts ${overlap.join(",")}).`,
              `spec.servers[${a.spec.servers.indexOf(sa)}]`,
            ),
          );
          return;
        }
      }
    });
  });
  return out;
}

function stableSelector(sel: Readonly<Record<string, string>> | undefined): string {
  return Object.entries(sel ?? {})
    .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}
