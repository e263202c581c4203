import { hostsOverlap, parseGatewayHost, parseGatewayRef } from "../hosts.ts";
import type { AnalysisContext } from "./context.ts";
import { finding, type Finding } from "./finding.ts";

/**
 * IST0132: a VirtualService bound to a Gateway has hosts that no server of
 * that Gateway serves (by name, wildcard or `ns/` restriction), so the
 * gateway ignores them (semantics §2.17).
 */
export function checkGatewayBinding(ctx: AnalysisContext): Finding[] {
  const out: Finding[] = [];
  for (const vs of ctx.of("VirtualService")) {
    const vsNs = vs.metadata.namespace;
    (vs.spec.gateways ?? []).forEach((ref, gi) => {
      const parsed = parseGatewayRef(ref, vsNs);
      if (parsed.mesh) return;
      const gw = ctx.of("Gateway").find((g) => g.metadata.namespace === parsed.namespace && g.metadata.name === parsed.name);
      if (gw === undefined) return; // IST0101 reports it
      const served = gw.spec.servers.flatMap((s) => s.hosts.map((h) => parseGatewayHost(h, gw.metadata.namespace)));
      const missing = (vs.spec.hosts ?? []).filter(
        (h) => !served.some((s) => (s.namespace === "*" || s.namespace === vsNs) && hostsOverlap(s.host, h)),
      );
      if (missing.length > 0) {
        out.push(
          finding(
            "IST0132",
            vs,
            `one or more host [${missing.join(",")}] defined in VirtualService ${vsNs}/${vs.metadata.name} not found in Gateway ${gw.metadata.namespace}/${gw.metadata.name}.`,
            `spec.gateways[${gi}]`,
          ),
        );
      }
    });
  }
  return out;
}
