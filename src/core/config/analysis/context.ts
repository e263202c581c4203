import { fqdn, hostMatches } from "../hosts.ts";
import { EMPTY_KUBE_CONTEXT, type KubeContext, type KubeService } from "../kube-context.ts";
import { resourceKey, type AnyResource, type Kind, type ResourceOf } from "../resource.ts";

/** A workload as the analyzer sees it: a WorkloadEntry, a ServiceEntry endpoint, a Kubernetes Pod (context), or a gateway's selector. */
export interface Workload {
  namespace: string;
  labels: Readonly<Record<string, string>>;
  /** Gateway workloads come from Gateway selectors and may live in any namespace. */
  anyNamespace: boolean;
}

/** Everything the analyzers share, computed once per `analyze` call. */
export class AnalysisContext {
  readonly rootNamespace: string;
  readonly domainSuffix: string;
  readonly resources: readonly AnyResource[];
  readonly workloads: readonly Workload[];
  /** Kubernetes Services, Pods and Namespaces given as context (`analyze -f`). */
  readonly kube: KubeContext;

  constructor(resources: readonly AnyResource[], o: { rootNamespace: string; domainSuffix: string; kube?: KubeContext }) {
    this.rootNamespace = o.rootNamespace;
    this.domainSuffix = o.domainSuffix;
    this.kube = o.kube ?? EMPTY_KUBE_CONTEXT;
    // Sorted so that messages listing several resources do not depend on input order.
    this.resources = [...resources].sort((a, b) => compareKeys(resourceKey(a), resourceKey(b)));
    this.workloads = [...collectWorkloads(this.resources), ...this.kube.pods.map((p) => ({ namespace: p.namespace, labels: p.labels, anyNamespace: false }))];
  }

  /** Kubernetes Services whose host (`<name>.<ns>.svc.<suffix>`) is `host`; only those visible from `fromNamespace` when given. */
  servicesFor(host: string, fromNamespace?: string): KubeService[] {
    return this.kube.services.filter(
      (s) => hostMatches(`${s.name}.${s.namespace}.${this.domainSuffix}`, host) && (fromNamespace === undefined || isExportedTo(s.exportTo, s.namespace, fromNamespace)),
    );
  }

  of<K extends Kind>(kind: K): ResourceOf<K>[] {
    return this.resources.filter((r) => r.kind === kind) as unknown as ResourceOf<K>[];
  }

  /** Fully qualified host as seen from a namespace (semantics §1). */
  fqdn(host: string, namespace: string): string {
    return fqdn(host, namespace, this.domainSuffix);
  }

  /** ServiceEntries providing `host` (an FQDN); only those exported to `fromNamespace` when it is given. */
  serviceEntriesFor(host: string, fromNamespace?: string): ResourceOf<"ServiceEntry">[] {
    return this.of("ServiceEntry").filter(
      (se) =>
        se.spec.hosts.some((h) => hostMatches(this.fqdn(h, se.metadata.namespace), host)) &&
        (fromNamespace === undefined || isExportedTo(se.spec.exportTo, se.metadata.namespace, fromNamespace)),
    );
  }

  /** Endpoint label sets behind `host`, or `undefined` if the registry lists no endpoints for it. */
  endpointsFor(host: string): Readonly<Record<string, string>>[] | undefined {
    const out: Readonly<Record<string, string>>[] = [];
    let any = false;
    for (const se of this.serviceEntriesFor(host)) {
      if (se.spec.endpoints !== undefined) {
        any = true;
        out.push(...se.spec.endpoints.map((e) => e.labels ?? {}));
      }
      const sel = se.spec.workloadSelector?.labels;
      if (sel !== undefined) {
        any = true;
        for (const we of this.of("WorkloadEntry")) {
          const labels = workloadEntryLabels(we);
          if (we.metadata.namespace === se.metadata.namespace && labelsMatch(sel, labels)) out.push(labels);
        }
      }
    }
    for (const svc of this.servicesFor(host)) {
      if (svc.selector === undefined) continue;
      any = true;
      for (const pod of this.kube.pods) if (pod.namespace === svc.namespace && labelsMatch(svc.selector, pod.labels)) out.push(pod.labels);
    }
    return any ? out : undefined;
  }

  /** Workloads a selector-based policy in `namespace` applies to (root namespace = every namespace). */
  workloadsSelected(namespace: string, selector: Readonly<Record<string, string>>): Workload[] {
    const everywhere = namespace === this.rootNamespace;
    return this.workloads.filter((w) => (everywhere || w.anyNamespace || w.namespace === namespace) && labelsMatch(selector, w.labels));
  }
}

/** `exportTo` visibility (semantics §2.19): default `*`; `.` = own namespace; `~` = nowhere. */
export function isExportedTo(exportTo: readonly string[] | undefined, ownNamespace: string, namespace: string): boolean {
  if (exportTo === undefined || exportTo.length === 0) return true;
  return exportTo.some((e) => e === "*" || e === namespace || (e === "." && ownNamespace === namespace));
}

/** True when some namespace sees both resources (their `exportTo` scopes intersect). */
export function exportScopesOverlap(a: { exportTo?: readonly string[]; namespace: string }, b: { exportTo?: readonly string[]; namespace: string }): boolean {
  const scope = (x: { exportTo?: readonly string[]; namespace: string }): "all" | Set<string> => {
    const e = x.exportTo ?? [];
    if (e.length === 0 || e.includes("*")) return "all";
    return new Set(e.filter((v) => v !== "~").map((v) => (v === "." ? x.namespace : v)));
  };
  const sa = scope(a);
  const sb = scope(b);
  if (sa === "all") return sb === "all" || sb.size > 0;
  if (sb === "all") return sa.size > 0;
  return [...sa].some((n) => sb.has(n));
}

/** True when every selector label is present with the same value. */
export function labelsMatch(selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>>): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** A WorkloadEntry's labels: resource labels overlaid with `spec.labels`, as Istio merges them. */
export function workloadEntryLabels(we: ResourceOf<"WorkloadEntry">): Record<string, string> {
  return { ...(we.metadata.labels ?? {}), ...(we.spec.labels ?? {}) };
}

function collectWorkloads(resources: readonly AnyResource[]): Workload[] {
  const out: Workload[] = [];
  for (const r of resources) {
    if (r.kind === "WorkloadEntry") out.push({ namespace: r.metadata.namespace, labels: workloadEntryLabels(r), anyNamespace: false });
    else if (r.kind === "ServiceEntry") {
      for (const e of r.spec.endpoints ?? []) out.push({ namespace: r.metadata.namespace, labels: e.labels ?? {}, anyNamespace: false });
    } else if (r.kind === "Gateway" && r.spec.selector !== undefined) {
      out.push({ namespace: r.metadata.namespace, labels: r.spec.selector, anyNamespace: true });
    }
  }
  return out;
}

function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
