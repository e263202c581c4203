import type { AnyResource, Kind } from "../resource.ts";

/** One `istioctl analyze`-style finding. */
export interface Finding {
  /** Stable code: Istio's IST0xxx where Istio has the check, STR0xxx for Strait-only checks. */
  code: string;
  level: "Error" | "Warning" | "Info";
  message: string;
  resource: { kind: Kind; namespace: string; name: string };
  /** Field path inside the resource, when the finding concerns one. */
  field?: string;
}

/** Builds a finding for `r` from a code in {@link FINDING_CODES}. */
export function finding(code: FindingCode, r: AnyResource, message: string, field?: string): Finding {
  const f: Finding = { code, level: FINDING_CODES[code].level, message, resource: { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name } };
  if (field !== undefined) f.field = field;
  return f;
}

/** Every code the analyzer emits, with its level and what it means. */
export const FINDING_CODES = {
  IST0101: { level: "Error", title: "ReferencedResourceNotFound: a gateway, host, subset or delegate that is referenced does not exist" },
  IST0109: { level: "Error", title: "ConflictingMeshGatewayVirtualServiceHosts: several mesh VirtualServices define the same host" },
  IST0116: { level: "Warning", title: "ConflictingSidecarWorkloadSelectors: several Sidecars select the same workload" },
  IST0123: { level: "Warning", title: "MultipleSidecarsWithoutWorkloadSelectors: several namespace-wide Sidecars in one namespace" },
  IST0127: { level: "Warning", title: "NoMatchingWorkloadsFound: a selector matches no workload" },
  IST0130: { level: "Warning", title: "VirtualServiceUnreachableRule: a route can never be used" },
  IST0131: { level: "Info", title: "VirtualServiceIneffectiveMatch: a match is already covered by an earlier one" },
  IST0132: { level: "Warning", title: "VirtualServiceHostNotFoundInGateway: a VirtualService host is not served by its gateway" },
  IST0145: { level: "Error", title: "ConflictingGateways: two Gateways claim the same port and hosts on the same workloads" },
  IST0173: { level: "Warning", title: "DestinationRuleSubsetNotSelectPods: a subset selects no endpoint of its host" },
  STR0001: { level: "Warning", title: "AuthorizationPolicyNeverMatches: a rule contradicts itself" },
  STR0002: { level: "Warning", title: "AuthorizationPolicyNeedsMtls: a rule uses peer identity where mTLS is disabled" },
  STR0003: { level: "Warning", title: "AuthorizationPolicyNeedsRequestAuthentication: a rule uses JWT attributes but no RequestAuthentication applies" },
  STR0004: { level: "Warning", title: "RootNamespaceSelectorIgnored: a PeerAuthentication with a selector in the root namespace is ignored" },
  STR0005: { level: "Warning", title: "InvalidDelegation: the delegate has hosts, or delegation goes more than one level deep" },
  STR0006: { level: "Info", title: "UnusedDelegate: a delegate VirtualService no VirtualService refers to" },
} as const satisfies Record<string, { level: Finding["level"]; title: string }>;

export type FindingCode = keyof typeof FINDING_CODES;
