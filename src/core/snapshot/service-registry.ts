import type { ServiceEntryResource, WorkloadEntryResource } from "../config/resource.ts";
import type { WorkloadEntrySpec } from "../config/kinds/workload-entry.ts";
import type { ServicePort } from "../config/kinds/service-entry.ts";
import { fqdn } from "../config/hosts.ts";
import type { Endpoint, Service } from "./snapshot-model.ts";
import { resolveExportTo } from "./export-visibility.ts";
import { matchesLabels } from "./label-match.ts";
import { placementOf, workloadSpiffeId } from "./workload-placement.ts";
import { compare } from "./ordering.ts";
import { sameItems, type CompileMemo } from "./compile-memo.ts";

/** WorkloadEntries by namespace, and within a namespace by `key=value` label, so selection stays near-linear. */
export type WorkloadIndex = ReadonlyMap<string, { all: readonly WorkloadEntryResource[]; byLabel: ReadonlyMap<string, readonly WorkloadEntryResource[]> }>;

export function indexWorkloads(wes: readonly WorkloadEntryResource[]): WorkloadIndex {
  const byNs = new Map<string, { all: WorkloadEntryResource[]; byLabel: Map<string, WorkloadEntryResource[]> }>();
  for (const we of wes) {
    let entry = byNs.get(we.metadata.namespace);
    if (entry === undefined) {
      entry = { all: [], byLabel: new Map() };
      byNs.set(we.metadata.namespace, entry);
    }
    entry.all.push(we);
    for (const [k, v] of Object.entries(we.spec.labels ?? {})) {
      const key = `${k}=${v}`;
      const list = entry.byLabel.get(key);
      if (list === undefined) entry.byLabel.set(key, [we]);
      else list.push(we);
    }
  }
  return byNs;
}

/** WorkloadEntries a ServiceEntry selects (same namespace, `workloadSelector.labels` against `spec.labels`). */
export function selectedWorkloads(se: ServiceEntryResource, workloads: WorkloadIndex): readonly WorkloadEntryResource[] {
  const selector = se.spec.workloadSelector;
  if (selector === undefined) return [];
  const entry = workloads.get(se.metadata.namespace);
  if (entry === undefined) return [];
  // Start from the smallest candidate list among the selector's pairs.
  let candidates: readonly WorkloadEntryResource[] = entry.all;
  for (const [k, v] of Object.entries(selector.labels ?? {})) {
    const list = entry.byLabel.get(`${k}=${v}`) ?? [];
    if (list.length < candidates.length) candidates = list;
  }
  return candidates.filter((we) => matchesLabels(selector.labels, we.spec.labels ?? {}));
}

/**
 * The service registry: one `Service` per ServiceEntry host, its endpoints
 * from inline `endpoints` or the WorkloadEntries it selects.
 */
export function buildServices(
  serviceEntries: readonly ServiceEntryResource[],
  workloads: WorkloadIndex,
  trustDomain: string,
  domainSuffix: string,
  /** Filled with `<ns>/<workload>` -> FQDNs of the services selecting it. */
  serves?: Map<string, string[]>,
  /** Services of a ServiceEntry whose selected workloads are the same objects as last time are reused. */
  memo?: CompileMemo,
): Service[] {
  const services: Service[] = [];
  for (const se of serviceEntries) {
    const ns = se.metadata.namespace;
    const selected = selectedWorkloads(se, workloads);
    const hit = memo?.services.get(se);
    const built = hit !== undefined && sameItems(hit.selected, selected) ? hit.services : servicesOf(se, selected, trustDomain, domainSuffix);
    if (built !== hit?.services) memo?.services.set(se, { selected, services: built });
    services.push(...built);
    if (serves === undefined) continue;
    const hosts = built.length === 0 ? [] : built.map((s) => s.host);
    for (const we of selected) {
      const ref = `${ns}/${we.metadata.name}`;
      serves.set(ref, [...(serves.get(ref) ?? []), ...hosts]);
    }
  }
  return services.sort(registryOrder);
}

/** The registry's order: host, then namespace, then ServiceEntry name. */
export function registryOrder(a: Service, b: Service): number {
  return compare(a.host, b.host) || compare(a.namespace, b.namespace) || compare(a.source.name, b.source.name);
}

/** One `Service` per host of `se`, its endpoints from inline `endpoints` and the `selected` workloads. */
function servicesOf(se: ServiceEntryResource, selected: readonly WorkloadEntryResource[], trustDomain: string, domainSuffix: string): Service[] {
  const ns = se.metadata.namespace;
  const ports = se.spec.ports ?? [];
  const endpoints: Endpoint[] = [];
  for (const ep of se.spec.endpoints ?? []) endpoints.push(endpointOf(ep, ports, ns, trustDomain, undefined, undefined));
  for (const we of selected) endpoints.push(endpointOf(we.spec, ports, ns, trustDomain, placementOf(we), `${ns}/${we.metadata.name}`));
  return (se.spec.hosts ?? []).map((h) => ({
    host: fqdn(h, ns, domainSuffix),
    namespace: ns,
    source: { kind: "ServiceEntry", namespace: ns, name: se.metadata.name },
    ports,
    addresses: se.spec.addresses ?? [],
    location: se.spec.location ?? "MESH_EXTERNAL",
    resolution: se.spec.resolution ?? "NONE",
    exportTo: resolveExportTo(se.spec.exportTo, ns),
    subjectAltNames: se.spec.subjectAltNames ?? [],
    endpoints,
  }));
}

function endpointOf(
  spec: WorkloadEntrySpec,
  ports: readonly ServicePort[],
  namespace: string,
  trustDomain: string,
  placement: { cluster: string; node: string } | undefined,
  workload: string | undefined,
): Endpoint {
  const mapped: Record<string, number> = {};
  for (const p of ports) {
    const byName = p.name === undefined ? undefined : spec.ports?.[p.name];
    mapped[String(p.number)] = byName ?? p.targetPort ?? p.number;
  }
  const ep: Endpoint = { ports: mapped, labels: spec.labels ?? {} };
  if (spec.address !== undefined) ep.address = spec.address;
  if (spec.network !== undefined) ep.network = spec.network;
  if (spec.locality !== undefined) ep.locality = spec.locality;
  if (spec.weight !== undefined) ep.weight = spec.weight;
  // Inline endpoints have an identity only when they name a service account; selected workloads always do.
  if (workload !== undefined || spec.serviceAccount !== undefined) ep.spiffeId = workloadSpiffeId(trustDomain, namespace, spec.serviceAccount);
  if (placement !== undefined) ep.placement = placement;
  if (workload !== undefined) ep.workload = workload;
  return ep;
}
