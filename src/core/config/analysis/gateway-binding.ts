import { hostsOverlap, parseGatewayHost, parseGatewayRef } from "../hosts.ts";
import type { AnalysisContext } from "./context.ts";
import { finding, type Finding } from "./finding.ts";

/**
 * IST0132: a VirtualService binds a Gateway that serves none of its hosts (by
 * name, wildcard or `ns/` restriction), so that gateway ignores the
 * VirtualService (semantics §2.17). As in Istio, a Gateway serving at least
 * one of the hosts is fine: the others may be served by another bound gateway or the mesh.
 */
export function checkGatewayBinding(ctx: AnalysisContext): Finding[] {
  const out: Finding[] = [];
  for (const vs of ctx.of("VirtualService")) {
    const vsNs = vs.metadata.namespace;
    const hosts = vs.spec.hosts ?? [];
    if (hosts.length === 0) continue;
    (vs.spec.gateways ?? []).forEach((ref, gi) => {
      const parsed = parseGatewayRef(ref, vsNs);
      if (parsed.mesh) return;
      const gw = ctx.of("Gateway").find((g) => g.metadata.namespace === parsed.namespace && g.metadata.name === parsed.name);
      if (gw === undefined) return; // IST0101 reports it
      const served = gw.spec.servers.flatMap((s) => s.hosts.map((h) => parseGatewayHost(h, gw.metadata.namespace)));
      const anyServed = hosts.some((h) => served.some((s) => (s.namespace === "*" || s.namespace === vsNs) && hostsOverlap(s.host, h)));
      if (anyServed) return;
      out.push(
        finding(
          "IST0132",
          vs,
          `one or more host [${hosts.join(",")}] defined in VirtualService ${vsNs}/${vs.metadata.name} not found in Gateway ${gw.metadata.namespace}/${gw.metadata.name}.`,
          `spec.gateways[${gi}]`,
        ),
      );
    });
  }
  return out;
}
