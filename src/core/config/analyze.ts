import { checkAuthorizationReachability } from "./analysis/authorization-reachability.ts";
import { AnalysisContext } from "./analysis/context.ts";
import type { Finding } from "./analysis/finding.ts";
import { checkDelegation } from "./analysis/delegation.ts";
import { checkConflictingGateways } from "./analysis/gateway-conflicts.ts";
import { checkGatewayBinding } from "./analysis/gateway-binding.ts";
import { checkSidecarSelectors } from "./analysis/sidecar-selectors.ts";
import { checkSubsetWorkloads } from "./analysis/subset-workloads.ts";
import { checkUnreachableRoutes } from "./analysis/unreachable-routes.ts";
import { checkConflictingMeshVirtualServices } from "./analysis/virtual-service-conflicts.ts";
import { checkVirtualServiceReferences } from "./analysis/virtual-service-references.ts";
import { checkRootNamespacePeerAuthentication, checkWorkloadSelectors } from "./analysis/workload-selectors.ts";
import { DEFAULT_DOMAIN_SUFFIX } from "./hosts.ts";
import type { KubeContext } from "./kube-context.ts";
import type { AnyResource } from "./resource.ts";

export type { Finding } from "./analysis/finding.ts";
export { FINDING_CODES, type FindingCode } from "./analysis/finding.ts";

export const DEFAULT_ROOT_NAMESPACE = "strait-system";

export interface AnalyzeOptions {
  /** Namespace holding mesh-wide policy. Default "strait-system". */
  rootNamespace?: string;
  /** Suffix for short host names. Default "svc.cluster.local". */
  domainSuffix?: string;
  /** Kubernetes Services, Pods and Namespaces read as context (`analyze -f`), never stored. */
  kube?: KubeContext;
}

const ANALYZERS: readonly ((ctx: AnalysisContext) => Finding[])[] = [
  checkVirtualServiceReferences,
  checkConflictingMeshVirtualServices,
  checkDelegation,
  checkUnreachableRoutes,
  checkGatewayBinding,
  checkConflictingGateways,
  checkWorkloadSelectors,
  checkSubsetWorkloads,
  checkAuthorizationReachability,
  checkRootNamespacePeerAuthentication,
  checkSidecarSelectors,
];

/**
 * Cross-resource analysis of a whole (validated) config set, like
 * `istioctl analyze`. Pure: the same resources always give the same findings,
 * sorted by resource, then code, then field.
 * @example analyze(resources).filter((f) => f.level === "Error")
 */
export function analyze(resources: readonly AnyResource[], options?: AnalyzeOptions): Finding[] {
  const ctx = new AnalysisContext(resources, {
    rootNamespace: options?.rootNamespace ?? DEFAULT_ROOT_NAMESPACE,
    domainSuffix: options?.domainSuffix ?? DEFAULT_DOMAIN_SUFFIX,
    ...(options?.kube === undefined ? {} : { kube: options.kube }),
  });
  return ANALYZERS.flatMap((a) => a(ctx)).sort(compareFindings);
}

function compareFindings(a: Finding, b: Finding): number {
  const ka = [a.resource.kind, a.resource.namespace, a.resource.name, a.code, a.field ?? ""];
  const kb = [b.resource.kind, b.resource.namespace, b.resource.name, b.code, b.field ?? ""];
  for (let i = 0; i < ka.length; i++) {
    if (ka[i]! < kb[i]!) return -1;
    if (ka[i]! > kb[i]!) return 1;
  }
  return 0;
}
