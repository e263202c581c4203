import type { DestinationRuleSpec } from "../config/kinds/destination-rule.ts";
import { hostMatches } from "../config/hosts.ts";
import { hasSelector, matchesLabels } from "./label-match.ts";
import type { CompiledDestinationRule, SourceRef } from "./snapshot-model.ts";
import { visibleFrom } from "./export-visibility.ts";

/** Who is calling which service: the inputs of Istio's DestinationRule lookup. */
export interface DestinationRuleQuery {
  /** Fully qualified service host. */
  host: string;
  /** Namespace of the calling workload (or gateway). */
  clientNamespace: string;
  /** Labels of the calling workload, for DRs with a `workloadSelector`. */
  clientLabels?: Readonly<Record<string, string>>;
  /** Namespace of the service. */
  serviceNamespace: string;
  rootNamespace: string;
}

/** The DestinationRule in effect for one client and host, with the resources merged into it. */
export interface EffectiveDestinationRule {
  sources: SourceRef[];
  spec: DestinationRuleSpec;
}

/**
 * The DestinationRule a client uses for `host` (istio-semantics.md §2.10,
 * pilot `PushContext.destinationRule`): rules from the client's namespace
 * first, then rules the service's namespace exports to it, then the root
 * namespace's. Within the chosen namespace the most specific host wins, a
 * rule whose `workloadSelector` selects the client beats selector-less ones,
 * and rules for the same host, selector and `exportTo` are merged oldest
 * first (pilot `mergeDestinationRule`): the first top-level `trafficPolicy`
 * wins and subsets with new names are appended.
 *
 * `rules` must be in age order (as `CompileContext.destinationRules` is).
 */
export function resolveDestinationRule(rules: readonly CompiledDestinationRule[], q: DestinationRuleQuery): EffectiveDestinationRule | undefined {
  const steps = [q.clientNamespace, q.serviceNamespace, q.rootNamespace];
  for (const ns of new Set(steps)) {
    const candidates = rules.filter((r) => r.source.namespace === ns && visibleFrom(r.exportTo, q.clientNamespace) && applies(r, q) && hostMatches(r.host, q.host));
    if (candidates.length === 0) continue;
    const host = mostSpecific(candidates.map((r) => r.host));
    const sameHost = candidates.filter((r) => r.host === host);
    const selected = sameHost.filter((r) => hasSelector(r.spec.workloadSelector?.matchLabels));
    const pool = selected.length > 0 ? selected : sameHost;
    const first = pool[0]!;
    const mergeable = pool.filter((r) => sameSelector(r, first) && sameList(r.exportTo, first.exportTo));
    return merge(mergeable);
  }
  return undefined;
}

/** Selector DRs apply only to matching workloads of their own namespace. */
function applies(r: CompiledDestinationRule, q: DestinationRuleQuery): boolean {
  const sel = r.spec.workloadSelector?.matchLabels;
  if (!hasSelector(sel)) return true;
  return r.source.namespace === q.clientNamespace && q.clientLabels !== undefined && matchesLabels(sel, q.clientLabels);
}

/** An exact host beats a wildcard; a longer wildcard beats a shorter one. */
function mostSpecific(hosts: readonly string[]): string {
  return [...hosts].sort((a, b) => Number(a.startsWith("*")) - Number(b.startsWith("*")) || b.length - a.length)[0]!;
}

function sameSelector(a: CompiledDestinationRule, b: CompiledDestinationRule): boolean {
  const x = a.spec.workloadSelector?.matchLabels ?? {};
  const y = b.spec.workloadSelector?.matchLabels ?? {};
  return Object.keys(x).length === Object.keys(y).length && Object.entries(x).every(([k, v]) => y[k] === v);
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function merge(rules: readonly CompiledDestinationRule[]): EffectiveDestinationRule {
  const first = rules[0]!;
  const spec: DestinationRuleSpec = { ...first.spec, subsets: [...(first.spec.subsets ?? [])] };
  for (const r of rules.slice(1)) {
    if (spec.trafficPolicy === undefined && r.spec.trafficPolicy !== undefined) spec.trafficPolicy = r.spec.trafficPolicy;
    for (const s of r.spec.subsets ?? []) if (!spec.subsets!.some((x) => x.name === s.name)) spec.subsets!.push(s);
  }
  if (spec.subsets!.length === 0) delete spec.subsets;
  return { sources: rules.map((r) => r.source), spec };
}
