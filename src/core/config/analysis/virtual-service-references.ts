import { hostMatches, parseGatewayRef } from "../hosts.ts";
import type { Destination } from "../kinds/virtual-service.ts";
import type { ResourceOf } from "../resource.ts";
import { isExportedTo, type AnalysisContext } from "./context.ts";
import { finding, type Finding } from "./finding.ts";

/**
 * IST0101: a VirtualService names a gateway, destination host, subset or
 * delegate that does not exist. The registry is the set of ServiceEntries.
 */
export function checkVirtualServiceReferences(ctx: AnalysisContext): Finding[] {
  const out: Finding[] = [];
  for (const vs of ctx.of("VirtualService")) {
    const ns = vs.metadata.namespace;
    const gatewayRefs: [string, string][] = (vs.spec.gateways ?? []).map((g, i) => [g, `spec.gateways[${i}]`]);
    vs.spec.http?.forEach((route, i) =>
      route.match?.forEach((m, j) => m.gateways?.forEach((g, k) => gatewayRefs.push([g, `spec.http[${i}].match[${j}].gateways[${k}]`]))),
    );
    for (const [ref, field] of gatewayRefs) {
      const parsed = parseGatewayRef(ref, ns);
      if (parsed.mesh) continue;
      const exists = ctx.of("Gateway").some((g) => g.metadata.namespace === parsed.namespace && g.metadata.name === parsed.name);
      if (!exists) out.push(finding("IST0101", vs, `Referenced gateway not found: "${parsed.namespace}/${parsed.name}"`, field));
    }
    for (const [dest, field] of destinations(vs)) out.push(...checkDestination(ctx, vs, dest, field));
    vs.spec.http?.forEach((route, i) => {
      const d = route.delegate;
      if (d?.name === undefined) return;
      const dns = d.namespace ?? ns;
      if (!ctx.of("VirtualService").some((v) => v.metadata.namespace === dns && v.metadata.name === d.name)) {
        out.push(finding("IST0101", vs, `Referenced virtualservice not found: "${dns}/${d.name}"`, `spec.http[${i}].delegate`));
      }
    });
  }
  return out;
}

/** Every destination of a VirtualService with its field path. */
export function destinations(vs: ResourceOf<"VirtualService">): [Destination, string][] {
  const out: [Destination, string][] = [];
  vs.spec.http?.forEach((route, i) => {
    route.route?.forEach((d, j) => out.push([d.destination, `spec.http[${i}].route[${j}].destination`]));
    if (route.mirror !== undefined) out.push([route.mirror, `spec.http[${i}].mirror`]);
    route.mirrors?.forEach((m, j) => out.push([m.destination, `spec.http[${i}].mirrors[${j}].destination`]));
  });
  vs.spec.tls?.forEach((route, i) => route.route?.forEach((d, j) => out.push([d.destination, `spec.tls[${i}].route[${j}].destination`])));
  vs.spec.tcp?.forEach((route, i) => route.route?.forEach((d, j) => out.push([d.destination, `spec.tcp[${i}].route[${j}].destination`])));
  return out;
}

function checkDestination(ctx: AnalysisContext, vs: ResourceOf<"VirtualService">, dest: Destination, field: string): Finding[] {
  const ns = vs.metadata.namespace;
  const host = ctx.fqdn(dest.host, ns);
  if (ctx.serviceEntriesFor(host, ns).length === 0 && ctx.servicesFor(host, ns).length === 0) {
    const hidden = ctx.serviceEntriesFor(host)[0];
    const hiddenService = ctx.servicesFor(host)[0];
    const why =
      hidden !== undefined
        ? `ServiceEntry ${hidden.metadata.namespace}/${hidden.metadata.name} provides it but is not exported to namespace ${ns}`
        : hiddenService !== undefined
          ? `Service ${hiddenService.namespace}/${hiddenService.name} provides it but is not exported to namespace ${ns}`
          : "no ServiceEntry or Service provides it";
    return [finding("IST0101", vs, `Referenced host not found: "${host}" (${why})`, `${field}.host`)];
  }
  if (dest.subset === undefined) return [];
  const subset = dest.subset;
  const defined = ctx
    .of("DestinationRule")
    .some(
      (dr) =>
        isExportedTo(dr.spec.exportTo, dr.metadata.namespace, ns) &&
        hostMatches(ctx.fqdn(dr.spec.host, dr.metadata.namespace), host) &&
        (dr.spec.subsets ?? []).some((s) => s.name === subset),
    );
  if (defined) return [];
  return [finding("IST0101", vs, `Referenced host+subset in destinationrule not found: "${host}+${subset}"`, `${field}.subset`)];
}
