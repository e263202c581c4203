import type {
  AnyResource,
  AuthorizationPolicyResource,
  DestinationRuleResource,
  GatewayResource,
  PeerAuthenticationResource,
  RequestAuthenticationResource,
  ServiceEntryResource,
  VirtualServiceResource,
  WorkloadEntryResource,
} from "../config/resource.ts";
import { DEFAULT_DOMAIN_SUFFIX, fqdn } from "../config/hosts.ts";
import type { CompiledDestinationRule, Revocation, Service } from "./snapshot-model.ts";
import { buildServices, indexWorkloads, type WorkloadIndex } from "./service-registry.ts";
import { resolveExportTo } from "./export-visibility.ts";
import { byAge, compare } from "./ordering.ts";

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
  services: Service[];
  revocations: Revocation[];
}

export function prepareContext(input: CompileInput): CompileContext {
  const domainSuffix = input.domainSuffix ?? DEFAULT_DOMAIN_SUFFIX;
  const sorted = [...input.resources].sort(byAge);
  const ofKind = <K extends AnyResource["kind"]>(kind: K) => sorted.filter((r): r is Extract<AnyResource, { kind: K }> => r.kind === kind);
  const workloadEntries = ofKind("WorkloadEntry");
  const workloads = indexWorkloads(workloadEntries);
  const serviceEntries = ofKind("ServiceEntry");
  return {
    trustDomain: input.trustDomain,
    rootNamespace: input.rootNamespace ?? DEFAULT_ROOT_NAMESPACE,
    domainSuffix,
    gateways: ofKind("Gateway"),
    virtualServices: ofKind("VirtualService"),
    destinationRules: ofKind("DestinationRule").map((dr) => ({
      source: { kind: "DestinationRule", namespace: dr.metadata.namespace, name: dr.metadata.name },
      host: fqdn(dr.spec.host, dr.metadata.namespace, domainSuffix),
      exportTo: resolveExportTo(dr.spec.exportTo, dr.metadata.namespace),
      spec: dr.spec,
    })),
    serviceEntries,
    workloadEntries,
    workloads,
    authorizationPolicies: ofKind("AuthorizationPolicy"),
    peerAuthentications: ofKind("PeerAuthentication"),
    requestAuthentications: ofKind("RequestAuthentication"),
    services: buildServices(serviceEntries, workloads, input.trustDomain, domainSuffix),
    revocations: [...(input.revocations ?? [])].sort((a, b) => compare(a.spiffeId, b.spiffeId)),
  };
}
