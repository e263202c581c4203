import type { PolicyTargetReference, WorkloadSelector } from "../config/kinds/common.ts";
import type { Kind } from "../config/resource.ts";
import type { CompiledPolicy } from "./snapshot-model.ts";
import { hasSelector, matchesLabels } from "./label-match.ts";
import type { CompileContext } from "./compile-context.ts";

/**
 * `compiled` as a list for `flatMap` (empty when the policy does not apply), replaced by the
 * equal object of an earlier compile when the context keeps a memo.
 */
export function remembered<S>(ctx: Pick<CompileContext, "memo">, resource: object, compiled: CompiledPolicy<S> | undefined): CompiledPolicy<S>[] {
  if (compiled === undefined) return [];
  return [ctx.memo === undefined ? compiled : ctx.memo.policy(resource, compiled)];
}

/** The parts of AuthorizationPolicy, PeerAuthentication and RequestAuthentication that decide where they apply. */
export interface ScopedPolicy<S extends { selector?: WorkloadSelector; targetRef?: PolicyTargetReference; targetRefs?: PolicyTargetReference[] }> {
  kind: Kind;
  metadata: { namespace: string; name: string };
  spec: S;
}

/** A workload a policy may apply to. */
export interface PolicySubject {
  key: string;
  namespace: string;
  labels: Readonly<Record<string, string>>;
}

function targetRefsOf(spec: { targetRef?: PolicyTargetReference; targetRefs?: PolicyTargetReference[] }): PolicyTargetReference[] {
  return [...(spec.targetRef === undefined ? [] : [spec.targetRef]), ...(spec.targetRefs ?? [])];
}

/**
 * Which `subjects` a policy applies to (istio-semantics.md §2.12, §2.14):
 * root namespace without selector = mesh-wide; own namespace without selector
 * = namespace-wide; with a selector = matching workloads of its namespace
 * (of every namespace when it lives in the root namespace, except
 * PeerAuthentication, whose root selector policies are ignored).
 * Policies with `targetRef(s)` bind to gateways/services, not to workloads.
 */
export function policyForWorkloads<S extends { selector?: WorkloadSelector; targetRef?: PolicyTargetReference; targetRefs?: PolicyTargetReference[] }>(
  policy: ScopedPolicy<S>,
  subjects: readonly PolicySubject[],
  rootNamespace: string,
): CompiledPolicy<S> | undefined {
  if (targetRefsOf(policy.spec).length > 0) return undefined;
  const ns = policy.metadata.namespace;
  const inRoot = ns === rootNamespace;
  const selector = policy.spec.selector?.matchLabels;
  let scope: CompiledPolicy<S>["scope"];
  let applies: (s: PolicySubject) => boolean;
  if (!hasSelector(selector)) {
    scope = inRoot ? "mesh" : "namespace";
    applies = inRoot ? () => true : (s) => s.namespace === ns;
  } else {
    if (inRoot && policy.kind === "PeerAuthentication") return undefined;
    scope = "workload";
    applies = (s) => (inRoot || s.namespace === ns) && matchesLabels(selector, s.labels);
  }
  const appliesTo = subjects.filter(applies).map((s) => s.key);
  if (appliesTo.length === 0) return undefined;
  return { source: { kind: policy.kind, namespace: ns, name: policy.metadata.name }, scope, appliesTo, spec: policy.spec };
}

/** A Gateway a policy may apply to: its namespace, name and `selector` labels. */
export interface GatewaySubject {
  namespace: string;
  name: string;
  selector: Readonly<Record<string, string>>;
}

/**
 * Which Gateways a policy applies to: a `targetRef(s)` naming the Gateway (same
 * namespace), a selector contained in the Gateway's selector, a namespace-wide
 * policy in the Gateway's namespace, or a mesh-wide one.
 */
export function policyForGateways<S extends { selector?: WorkloadSelector; targetRef?: PolicyTargetReference; targetRefs?: PolicyTargetReference[] }>(
  policy: ScopedPolicy<S>,
  gateways: readonly GatewaySubject[],
  rootNamespace: string,
): CompiledPolicy<S> | undefined {
  const ns = policy.metadata.namespace;
  const refs = targetRefsOf(policy.spec);
  const selector = policy.spec.selector?.matchLabels;
  let scope: CompiledPolicy<S>["scope"];
  let applies: (g: GatewaySubject) => boolean;
  if (refs.length > 0) {
    scope = "workload";
    applies = (g) => g.namespace === ns && refs.some((r) => r.kind === "Gateway" && r.name === g.name && (r.namespace ?? ns) === ns);
  } else if (hasSelector(selector)) {
    scope = "workload";
    applies = (g) => (ns === rootNamespace || g.namespace === ns) && matchesLabels(selector, g.selector);
  } else {
    scope = ns === rootNamespace ? "mesh" : "namespace";
    applies = ns === rootNamespace ? () => true : (g) => g.namespace === ns;
  }
  const appliesTo = gateways.filter(applies).map((g) => `${g.namespace}/${g.name}`);
  if (appliesTo.length === 0) return undefined;
  return { source: { kind: policy.kind, namespace: ns, name: policy.metadata.name }, scope, appliesTo, spec: policy.spec };
}
