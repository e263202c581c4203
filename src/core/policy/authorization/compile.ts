import type { AuthorizationPolicySpec } from "../../config/kinds/authorization-policy.ts";
import type { CompiledPolicy } from "../../snapshot/snapshot-model.ts";
import type { Predicate } from "./attributes.ts";
import { ContextView } from "./context-view.ts";
import { compileRule, type CompiledRule, type RuleMode, type RuleProblem } from "./rule-compiler.ts";
import type { AuthorizationEngine, AuthzContext, AuthzDecision, PolicyProblem } from "./types.ts";

type Action = "ALLOW" | "DENY" | "AUDIT" | "CUSTOM";

interface PolicyEntry {
  name: string;
  action: Action;
  /** Rules compiled per traffic kind; empty = the policy never matches (`spec: {}`). */
  rules: CompiledRule[];
}

function firstMatch(policies: readonly PolicyEntry[], view: ContextView): { policy: string; rule: number } | undefined {
  for (const p of policies) {
    for (let i = 0; i < p.rules.length; i++) {
      const pred: Predicate | undefined = view.tcp ? p.rules[i]!.tcp : p.rules[i]!.http;
      if (pred !== undefined && pred(view)) return { policy: p.name, rule: i };
    }
  }
  return undefined;
}

const ALWAYS_RULE: CompiledRule = { http: () => true, tcp: () => true };

function compilePolicy(policy: CompiledPolicy<AuthorizationPolicySpec>, problems: PolicyProblem[]): PolicyEntry {
  const name = `${policy.source.namespace}/${policy.source.name}`;
  const spec = policy.spec ?? {};
  const action = spec.action ?? "ALLOW";
  const report = (field: string | undefined, message: string) =>
    problems.push(field === undefined ? { policy: name, message } : { policy: name, field, message });
  if (action !== "ALLOW" && action !== "DENY" && action !== "AUDIT" && action !== "CUSTOM") {
    // Not a valid policy: fail closed for the workload.
    report("spec.action", `unknown action ${JSON.stringify(action)}; every request is denied`);
    return { name, action: "DENY", rules: [ALWAYS_RULE] };
  }
  if (action === "CUSTOM") {
    // No ext-authz providers exist in Strait. Like istiod with an unknown provider, the CUSTOM
    // policy's rules become DENY rules: what it would have sent to the provider is denied.
    report("spec.action", `CUSTOM action is not supported (provider ${JSON.stringify(spec.provider?.name ?? "")}); requests matching its rules are denied`);
  }
  const mode: RuleMode = action === "ALLOW" ? "narrow" : "widen";
  const ruleProblems: RuleProblem[] = [];
  const rules = (spec.rules ?? []).map((rule, i) => {
    if (rule === null || typeof rule !== "object") {
      ruleProblems.push({ field: `spec.rules[${i}]`, message: "rule is not an object" });
      return mode === "narrow" ? { http: undefined, tcp: undefined } : ALWAYS_RULE;
    }
    try {
      return compileRule(rule, `spec.rules[${i}]`, mode, policy.source.namespace, ruleProblems);
    } catch (err) {
      // A rule of the wrong shape (a snapshot not produced by the validator): fail closed.
      ruleProblems.push({ field: `spec.rules[${i}]`, message: `malformed rule: ${err instanceof Error ? err.message : String(err)}` });
      return mode === "narrow" ? { http: undefined, tcp: undefined } : ALWAYS_RULE;
    }
  });
  for (const p of ruleProblems) report(p.field, p.message);
  if ((action === "DENY" || action === "CUSTOM") && rules.length === 0) {
    report("spec.rules", `${action} policy without rules is invalid; every request is denied`);
    return { name, action, rules: [ALWAYS_RULE] };
  }
  return { name, action, rules };
}

/**
 * Compiles the AuthorizationPolicies of one target (workload or gateway
 * `<ns>/<name>`): when `forWorkload` is given, only policies whose
 * `appliesTo` names it are used. Istio's evaluation order: CUSTOM (refused:
 * its rules deny), DENY (mesh-wide first), then ALLOW (allow when no ALLOW
 * policy applies, or when one matches; deny otherwise). AUDIT only marks the
 * decision.
 *
 * @example
 * const engine = compileAuthorization(snapshot.authorizationPolicies, "default/httpbin");
 * engine.evaluate({ source: { principal: "cluster.local/ns/default/sa/sleep" }, request: { host: "httpbin:8000", method: "GET", path: "/ip", headers: new Map() }, destination: { port: 8000 } });
 */
export function compileAuthorization(policies: readonly CompiledPolicy<AuthorizationPolicySpec>[], forWorkload?: string): AuthorizationEngine {
  const problems: PolicyProblem[] = [];
  const custom: PolicyEntry[] = [];
  const deny: PolicyEntry[] = [];
  const rootDeny: PolicyEntry[] = [];
  const allow: PolicyEntry[] = [];
  const audit: PolicyEntry[] = [];
  for (const policy of policies) {
    if (forWorkload !== undefined && !policy.appliesTo.includes(forWorkload)) continue;
    const entry = compilePolicy(policy, problems);
    const declared = policy.spec?.action ?? "ALLOW";
    if (declared === "CUSTOM") custom.push(entry);
    else if (entry.action === "DENY") (policy.scope === "mesh" ? rootDeny : deny).push(entry);
    else if (entry.action === "AUDIT") audit.push(entry);
    else allow.push(entry);
  }
  const denyOrder = [...rootDeny, ...deny];
  const counts = Object.freeze({ allow: allow.length, deny: denyOrder.length, audit: audit.length, custom: custom.length });

  return {
    problems: Object.freeze(problems),
    counts,
    evaluate(ctx: AuthzContext): AuthzDecision {
      const view = new ContextView(ctx);
      const audited = audit.length === 0 ? undefined : firstMatch(audit, view);
      const auditPart = audited === undefined ? { audit: false } : { audit: true, auditPolicy: audited.policy };
      const c = custom.length === 0 ? undefined : firstMatch(custom, view);
      if (c !== undefined) return { allow: false, reason: "CUSTOM action not supported: request matched its rules", policy: c.policy, rule: c.rule, ...auditPart };
      const d = denyOrder.length === 0 ? undefined : firstMatch(denyOrder, view);
      if (d !== undefined) return { allow: false, reason: "denied by policy", policy: d.policy, rule: d.rule, ...auditPart };
      if (allow.length === 0) return { allow: true, reason: "no ALLOW policies", ...auditPart };
      const a = firstMatch(allow, view);
      if (a !== undefined) return { allow: true, reason: "allowed by policy", policy: a.policy, rule: a.rule, ...auditPart };
      return { allow: false, reason: "no matching ALLOW policy", ...auditPart };
    },
  };
}
