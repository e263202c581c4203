import type {
  AnyResource,
  AuthorizationPolicyResource,
  GatewayResource,
  PeerAuthenticationResource,
  RequestAuthenticationResource,
  RateLimitPolicyResource,
  ServiceEntryResource,
  VirtualServiceResource,
  WorkloadEntryResource,
} from "../config/resource.ts";
import { DEFAULT_DOMAIN_SUFFIX, fqdn } from "../config/hosts.ts";
import type { CompiledDestinationRule, MeshRouteTable, Revocation, Service } from "./snapshot-model.ts";
import { placementOf } from "./workload-placement.ts";
import { boundTo, httpRoutesFor } from "./route-binding.ts";
import { buildServices, indexWorkloads, type WorkloadIndex } from "./service-registry.ts";
import { resolveExportTo } from "./export-visibility.ts";
import { byAge, compare } from "./ordering.ts";
import { indexSidecars, type SidecarIndex } from "./sidecar-scope.ts";
import { remember, type CompileMemo } from "./compile-memo.ts";

/** Everything the compiler needs; all of it is data, nothing is fetched. */
export interface CompileInput {
  /** Validated resources (the whole stored config). */
  resources: readonly AnyResource[];
  /** Attested nodes; nodes named only by WorkloadEntry labels are added. */
  nodes?: readonly { cluster: string; node: string }[];
  revocations?: readonly Revocation[];
  trustDomain: string;
  /** Namespace holding mesh-wide policy. Default `strait-system`. */
  rootNamespace?: string;
  /** Default `svc.cluster.local`. */
  domainSuffix?: string;
  /**
   * What an earlier compile built (compile-memo.ts): unchanged parts are reused, so a recompile
   * after a small change costs little. Ignored when made for another trust domain, root namespace
   * or domain suffix.
   */
  memo?: CompileMemo;
}

export const DEFAULT_ROOT_NAMESPACE = "strait-system";

/** The input split by kind, ordered, with the shared derived pieces built once. */
export interface CompileContext {
  trustDomain: string;
  rootNamespace: string;
  domainSuffix: string;
  gateways: GatewayResource[];
  virtualServices: VirtualServiceResource[];
  destinationRules: CompiledDestinationRule[];
  serviceEntries: ServiceEntryResource[];
  workloadEntries: WorkloadEntryResource[];
  workloads: WorkloadIndex;
  authorizationPolicies: AuthorizationPolicyResource[];
  peerAuthentications: PeerAuthenticationResource[];
  requestAuthentications: RequestAuthenticationResource[];
  rateLimitPolicies: RateLimitPolicyResource[];
  services: Service[];
  /** `<ns>/<workload>` -> FQDNs of the services that select it. */
  serves: ReadonlyMap<string, string[]>;
  /** WorkloadEntries by `<cluster>/<node>` placement. */
  placed: ReadonlyMap<string, WorkloadEntryResource[]>;
  /** Routing of every VirtualService bound to the mesh, per host (filtered per node by `exportTo`). */
  meshRoutes: MeshRouteTable[];
  revocations: Revocation[];
  /** Sidecar resources by namespace, for per-workload egress scoping. */
  sidecars: SidecarIndex;
  /** The memo this compile reads and fills, when the caller keeps one. */
  memo: CompileMemo | undefined;
  /**
   * Outbound views already filtered in this compile, by the node's viewer set (namespaces and
   * Sidecars of its workloads): nodes that see alike share one array, so it is filtered and
   * split into chunks once, not once per node.
   */
  outboundViews: Map<string, { outbound: Service[]; routes: MeshRouteTable[] }>;
  /** `services` by `<namespace>/<host>`, so a node's inbound services are looked up, not scanned. */
  servicesByKey: ReadonlyMap<string, readonly Service[]>;
}

export function prepareContext(input: CompileInput): CompileContext {
  const domainSuffix = input.domainSuffix ?? DEFAULT_DOMAIN_SUFFIX;
  const rootNamespace = input.rootNamespace ?? DEFAULT_ROOT_NAMESPACE;
  const memo = input.memo?.fits({ trustDomain: input.trustDomain, rootNamespace, domainSuffix }) === true ? input.memo : undefined;
  const sorted = [...input.resources].sort(byAge);
  const ofKind = <K extends AnyResource["kind"]>(kind: K) => sorted.filter((r): r is Extract<AnyResource, { kind: K }> => r.kind === kind);
  const workloadEntries = ofKind("WorkloadEntry");
  const workloads = indexWorkloads(workloadEntries);
  const serviceEntries = ofKind("ServiceEntry");
  const serves = new Map<string, string[]>();
  const services = buildServices(serviceEntries, workloads, input.trustDomain, domainSuffix, serves, memo);
  const placed = new Map<string, WorkloadEntryResource[]>();
  for (const we of workloadEntries) {
    const p = placementOf(we);
    if (p === undefined) continue;
    const key = `${p.cluster}/${p.node}`;
    const list = placed.get(key);
    if (list === undefined) placed.set(key, [we]);
    else list.push(we);
  }
  const virtualServices = ofKind("VirtualService");
  return {
    trustDomain: input.trustDomain,
    rootNamespace,
    domainSuffix,
    gateways: ofKind("Gateway"),
    virtualServices,
    destinationRules: ofKind("DestinationRule").map((dr) =>
      remember(memo?.destinationRules, dr, (r): CompiledDestinationRule => ({
        source: { kind: "DestinationRule", namespace: r.metadata.namespace, name: r.metadata.name },
        host: fqdn(r.spec.host, r.metadata.namespace, domainSuffix),
        exportTo: resolveExportTo(r.spec.exportTo, r.metadata.namespace),
        spec: r.spec,
      })),
    ),
    serviceEntries,
    workloadEntries,
    workloads,
    authorizationPolicies: ofKind("AuthorizationPolicy"),
    peerAuthentications: ofKind("PeerAuthentication"),
    requestAuthentications: ofKind("RequestAuthentication"),
    rateLimitPolicies: ofKind("RateLimitPolicy"),
    services,
    serves,
    placed,
    meshRoutes: meshRouteTables(virtualServices, domainSuffix, memo),
    revocations: (memo === undefined ? [...(input.revocations ?? [])] : memo.revocations(input.revocations ?? [])).sort((a, b) => compare(a.spiffeId, b.spiffeId)),
    sidecars: indexSidecars(ofKind("Sidecar"), rootNamespace),
    memo,
    outboundViews: new Map(),
    servicesByKey: indexByKey(services),
  };
}

function indexByKey(services: readonly Service[]): Map<string, Service[]> {
  const byKey = new Map<string, Service[]>();
  for (const svc of services) {
    const key = `${svc.namespace}/${svc.host}`;
    const list = byKey.get(key);
    if (list === undefined) byKey.set(key, [svc]);
    else list.push(svc);
  }
  return byKey;
}

/** One table per host of every VirtualService bound to the mesh, sorted by host (oldest VS first within a host). */
function meshRouteTables(virtualServices: readonly VirtualServiceResource[], domainSuffix: string, memo: CompileMemo | undefined): MeshRouteTable[] {
  const out: MeshRouteTable[] = [];
  for (const vs of virtualServices) out.push(...remember(memo?.meshRoutes, vs, (v) => meshRouteTablesOf(v, domainSuffix)));
  // Stable: equal hosts keep the VS age order.
  return out.sort((a, b) => compare(a.host, b.host));
}

/** The mesh route tables of one VirtualService, one per host (none when it is not bound to the mesh). */
function meshRouteTablesOf(vs: VirtualServiceResource, domainSuffix: string): MeshRouteTable[] {
  const http = httpRoutesFor(vs, { mesh: true }, domainSuffix);
  const topBound = boundTo(vs, { mesh: true });
  if (http.length === 0 && !topBound) return [];
  const ns = vs.metadata.namespace;
  const exportTo = resolveExportTo(vs.spec.exportTo, ns);
  const source = { kind: "VirtualService" as const, namespace: ns, name: vs.metadata.name };
  return (vs.spec.hosts ?? []).map((h) => ({
    host: fqdn(h, ns, domainSuffix),
    source,
    exportTo,
    http,
    tls: topBound ? (vs.spec.tls ?? []) : [],
    tcp: topBound ? (vs.spec.tcp ?? []) : [],
  }));
}
