/**
 * Resolves a route destination to a cluster: the registry service, the port,
 * the DestinationRule in effect for the client (resolveDestinationRule), the
 * subset's endpoints and the merged traffic policy. A subset no
 * DestinationRule defines, or a host not in the registry, has no cluster
 * (Envoy 503 NC).
 */
import type { Destination } from "../config/kinds/virtual-service.ts";
import type { CompiledDestinationRule, Service } from "../snapshot/snapshot-model.ts";
import { resolveDestinationRule } from "../snapshot/destination-rule-lookup.ts";
import { matchesLabels } from "../snapshot/label-match.ts";
import { hostMatches } from "../config/hosts.ts";
import { mergeTrafficPolicy } from "./traffic-policy.ts";
import type { ResolvedCluster, UpstreamEndpoint } from "./types.ts";

export interface ClusterScope {
  services: readonly Service[];
  destinationRules: readonly CompiledDestinationRule[];
  clientNamespace: string;
  clientLabels?: Readonly<Record<string, string>>;
  rootNamespace: string;
}

export type ClusterResult = { ok: true; cluster: ResolvedCluster } | { ok: false; reason: string };

/** Finds the registry service for a host: exact name first, then the most specific wildcard entry. */
export function findService(services: readonly Service[], host: string): Service | undefined {
  const h = host.toLowerCase();
  let best: Service | undefined;
  for (const s of services) {
    if (s.host === h) return s;
    if (s.host.startsWith("*") && hostMatches(s.host, h) && (best === undefined || s.host.length > best.host.length)) best = s;
  }
  return best;
}

function choosePort(service: Service, dest: Destination, requestPort: number | undefined): number | undefined {
  if (dest.port?.number !== undefined) return dest.port.number;
  if (service.ports.length === 1) return service.ports[0]!.number;
  if (requestPort !== undefined && service.ports.some((p) => p.number === requestPort)) return requestPort;
  return service.ports[0]?.number ?? requestPort;
}

export function resolveCluster(scope: ClusterScope, dest: Destination, requestPort: number | undefined): ClusterResult {
  const service = findService(scope.services, dest.host);
  if (service === undefined) return { ok: false, reason: `no service ${dest.host} in the registry` };
  const port = choosePort(service, dest, requestPort);
  const query = { host: dest.host.toLowerCase(), clientNamespace: scope.clientNamespace, serviceNamespace: service.namespace, rootNamespace: scope.rootNamespace };
  const dr = resolveDestinationRule(scope.destinationRules, scope.clientLabels === undefined ? query : { ...query, clientLabels: scope.clientLabels });
  let subsetLabels: Record<string, string> | undefined;
  let subsetPolicy;
  if (dest.subset !== undefined && dest.subset !== "") {
    const subset = dr?.spec.subsets?.find((s) => s.name === dest.subset);
    if (subset === undefined) return { ok: false, reason: `subset ${dest.subset} of ${dest.host} is not defined by any DestinationRule` };
    subsetLabels = subset.labels ?? {};
    subsetPolicy = subset.trafficPolicy;
  }
  const endpoints: UpstreamEndpoint[] = [];
  for (const ep of service.endpoints) {
    if (ep.address === undefined || ep.address === "") continue;
    if (subsetLabels !== undefined && !matchesLabels(subsetLabels, ep.labels)) continue;
    const target = port === undefined ? undefined : (ep.ports[String(port)] ?? port);
    if (target === undefined) continue;
    const u: UpstreamEndpoint = { address: ep.address, port: target, labels: ep.labels, weight: ep.weight ?? 1 };
    if (ep.locality !== undefined) u.locality = ep.locality;
    if (ep.network !== undefined) u.network = ep.network;
    if (ep.spiffeId !== undefined) u.spiffeId = ep.spiffeId;
    if (ep.placement !== undefined) u.placement = ep.placement;
    if (ep.workload !== undefined) u.workload = ep.workload;
    endpoints.push(u);
  }
  // A DNS service without endpoints is reached at its own name (Envoy resolves the host), and so is an
  // external service with resolution NONE (the name is the original destination at the edge). STATIC means
  // "exactly these endpoints": with none, the cluster is empty and the data plane answers 503 UH, as Envoy does.
  const byName =
    service.resolution === "DNS" || service.resolution === "DNS_ROUND_ROBIN" || (service.location === "MESH_EXTERNAL" && service.resolution !== "STATIC");
  if (service.endpoints.length === 0 && byName && subsetLabels === undefined && port !== undefined && !service.host.startsWith("*")) {
    endpoints.push({ address: service.host, port, labels: {}, weight: 1 });
  }
  const cluster: ResolvedCluster = {
    name: `outbound|${port ?? ""}|${dest.subset ?? ""}|${service.host}`,
    host: service.host,
    service,
    endpoints,
    trafficPolicy: mergeTrafficPolicy(dr?.spec.trafficPolicy, subsetPolicy, port),
    destinationRules: dr?.sources.map((s) => `${s.namespace}/${s.name}`) ?? [],
  };
  if (port !== undefined) cluster.port = port;
  if (dest.subset !== undefined && dest.subset !== "") cluster.subset = dest.subset;
  return { ok: true, cluster };
}
