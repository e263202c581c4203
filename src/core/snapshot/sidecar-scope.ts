/**
 * Sidecar scoping (Istio `Sidecar`, networking.istio.io/v1): which Sidecar applies to a workload
 * and what its egress listeners let the workload see.
 *
 * Precedence, as in Istio: a Sidecar of the workload's namespace whose `workloadSelector.labels`
 * match the workload; else the namespace's Sidecar without selector; else the root namespace's
 * Sidecar without selector (the mesh default). Oldest first within each tier. A Sidecar without
 * egress listeners leaves the egress view unrestricted.
 *
 * Egress hosts are `namespace/dnsName`: namespace `*` (any), `.` (the Sidecar's own) or a name;
 * `~/...` admits nothing. dnsName is `*`, a `*.suffix` wildcard or an FQDN.
 */
import type { SidecarResource } from "../config/resource.ts";
import { hostMatches, hostsOverlap } from "../config/hosts.ts";
import { hasSelector, matchesLabels } from "./label-match.ts";
import { byAge } from "./ordering.ts";

/** What one Sidecar allows: undefined `egress` means everything visible. */
export interface SidecarScope {
  /** `<ns>/<name>` of the Sidecar. */
  source: string;
  egress: { namespace: string; host: string }[] | undefined;
  outboundTrafficPolicy: "REGISTRY_ONLY" | "ALLOW_ANY" | undefined;
}

export function scopeOf(sc: SidecarResource): SidecarScope {
  const ns = sc.metadata.namespace;
  const listeners = sc.spec.egress ?? [];
  let egress: SidecarScope["egress"];
  if (listeners.length > 0) {
    egress = [];
    for (const l of listeners) {
      for (const entry of l.hosts ?? []) {
        const slash = entry.indexOf("/");
        const rawNs = slash < 0 ? "*" : entry.slice(0, slash);
        const host = (slash < 0 ? entry : entry.slice(slash + 1)).toLowerCase();
        if (rawNs === "~") continue;
        egress.push({ namespace: rawNs === "." ? ns : rawNs, host });
      }
    }
  }
  const policy = sc.spec.outboundTrafficPolicy;
  return {
    source: `${ns}/${sc.metadata.name}`,
    egress,
    // Present without a mode means REGISTRY_ONLY (the proto default).
    outboundTrafficPolicy: policy === undefined ? undefined : (policy.mode ?? "REGISTRY_ONLY"),
  };
}

/** Sidecars indexed for lookup: per namespace, the selector ones and the default, oldest first. */
export interface SidecarIndex {
  byNamespace: ReadonlyMap<string, { selected: SidecarResource[]; fallback: SidecarResource | undefined }>;
  rootNamespace: string;
}

export function indexSidecars(sidecars: readonly SidecarResource[], rootNamespace: string): SidecarIndex {
  const byNamespace = new Map<string, { selected: SidecarResource[]; fallback: SidecarResource | undefined }>();
  for (const sc of [...sidecars].sort(byAge)) {
    let e = byNamespace.get(sc.metadata.namespace);
    if (e === undefined) {
      e = { selected: [], fallback: undefined };
      byNamespace.set(sc.metadata.namespace, e);
    }
    if (hasSelector(sc.spec.workloadSelector?.labels)) e.selected.push(sc);
    else e.fallback ??= sc;
  }
  return { byNamespace, rootNamespace };
}

/** The Sidecar that applies to a workload, or undefined. */
export function sidecarFor(index: SidecarIndex, namespace: string, labels: Readonly<Record<string, string>>): SidecarResource | undefined {
  const own = index.byNamespace.get(namespace);
  const selected = own?.selected.find((sc) => matchesLabels(sc.spec.workloadSelector?.labels, labels));
  return selected ?? own?.fallback ?? index.byNamespace.get(index.rootNamespace)?.fallback;
}

/** True when the scope lets a workload reach `host` defined in `namespace` (a service or a VirtualService host). */
export function egressAllows(scope: SidecarScope, namespace: string, host: string): boolean {
  if (scope.egress === undefined) return true;
  return scope.egress.some((e) => (e.namespace === "*" || e.namespace === namespace) && hostMatches(e.host, host));
}

/** Like `egressAllows`, for DestinationRule hosts that may themselves be wildcards. */
export function egressOverlaps(scope: SidecarScope, namespace: string, host: string): boolean {
  if (scope.egress === undefined) return true;
  return scope.egress.some((e) => (e.namespace === "*" || e.namespace === namespace) && hostsOverlap(e.host, host));
}
