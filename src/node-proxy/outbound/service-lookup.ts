/**
 * Service names as a workload writes them (`reviews`, `reviews.shop`, `reviews.shop.svc.cluster.local`,
 * `api.example.com`) resolved against the node snapshot's outbound view, and the TCP cluster of a
 * service port (CONNECT tunnels): its endpoints and DestinationRule traffic policy.
 */
import type { ConfigView } from "../context.ts";
import type { NodeWorkload, Service } from "../../core/snapshot/snapshot-model.ts";
import type { ResolvedCluster, UpstreamEndpoint } from "../../core/routing/index.ts";
import { DEFAULT_DOMAIN_SUFFIX } from "../../core/config/hosts.ts";
import { resolveDestinationRule } from "../../core/snapshot/destination-rule-lookup.ts";
import type { TrafficPolicy } from "../../core/config/kinds/destination-rule.ts";
import { DEFAULT_ROOT_NAMESPACE } from "../../core/snapshot/compile-context.ts";

export const ROOT_NAMESPACE = DEFAULT_ROOT_NAMESPACE;

function outboundByHost(view: ConfigView): ReadonlyMap<string, Service> {
  return view.derive("h5:outbound-by-host", (v) => new Map(v.snapshot.outbound.map((s) => [s.host, s])));
}

/** The outbound service a host names, short names resolved relative to the caller's namespace. */
export function resolveService(view: ConfigView, host: string, namespace: string): Service | undefined {
  const h = host.toLowerCase().replace(/\.$/, "");
  const byHost = outboundByHost(view);
  return (
    byHost.get(h) ??
    byHost.get(`${h}.${namespace}.${DEFAULT_DOMAIN_SUFFIX}`) ??
    (h.split(".").length === 2 ? byHost.get(`${h}.${DEFAULT_DOMAIN_SUFFIX}`) : undefined)
  );
}

/** The traffic policy for `port`: a matching `portLevelSettings` entry replaces the top level. */
export function policyForPort(tp: TrafficPolicy | undefined, port: number): ResolvedCluster["trafficPolicy"] {
  if (tp === undefined) return {};
  const pl = tp.portLevelSettings?.find((p) => p.port?.number === port);
  const src = pl ?? tp;
  const out: ResolvedCluster["trafficPolicy"] = {};
  if (src.loadBalancer !== undefined) out.loadBalancer = src.loadBalancer;
  if (src.connectionPool !== undefined) out.connectionPool = src.connectionPool;
  if (src.outlierDetection !== undefined) out.outlierDetection = src.outlierDetection;
  if (src.tls !== undefined) out.tls = src.tls;
  return out;
}

/** The cluster a CONNECT to `service:port` uses, built once per view and caller namespace. */
export function tcpCluster(view: ConfigView, service: Service, port: number, w: NodeWorkload): ResolvedCluster {
  return view.derive(`h5:tcp-cluster:${w.namespace}/${w.name}:${service.host}:${port}`, (v) => {
    const dr = resolveDestinationRule(v.snapshot.destinationRules, {
      host: service.host,
      clientNamespace: w.namespace,
      clientLabels: w.labels,
      serviceNamespace: service.namespace,
      rootNamespace: ROOT_NAMESPACE,
    });
    const endpoints: UpstreamEndpoint[] = [];
    for (const ep of service.endpoints) {
      if (ep.address === undefined) continue;
      const target = ep.ports[String(port)] ?? port;
      const u: UpstreamEndpoint = { address: ep.address, port: target, labels: ep.labels, weight: ep.weight ?? 1 };
      if (ep.spiffeId !== undefined) u.spiffeId = ep.spiffeId;
      if (ep.placement !== undefined) u.placement = ep.placement;
      if (ep.workload !== undefined) u.workload = ep.workload;
      if (ep.locality !== undefined) u.locality = ep.locality;
      endpoints.push(u);
    }
    return {
      name: `outbound|${port}||${service.host}`,
      host: service.host,
      port,
      service,
      endpoints,
      trafficPolicy: policyForPort(dr?.spec.trafficPolicy, port),
      destinationRules: dr?.sources.map((s) => `${s.namespace}/${s.name}`) ?? [],
    };
  });
}
