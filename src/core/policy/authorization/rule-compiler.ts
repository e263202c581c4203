/**
 * Compiles one AuthorizationPolicy rule into predicates for HTTP and for TCP
 * traffic, following pilot `authz/model/model.go`:
 *
 * - `from` entries are ORed, `to` entries are ORed, `when` conditions ANDed,
 *   and the three parts ANDed; fields inside a source/operation are ANDed,
 *   the values of a field ORed, `notX` values "none of these".
 * - A value that cannot be used (an HTTP-only attribute on TCP, a malformed
 *   value, an unsupported attribute) drops the whole rule for ALLOW (the
 *   policy allows less) and only that value for DENY/AUDIT (the policy
 *   denies/audits more): Istio's `checkError`.
 * - A rule that cannot be compiled at all (an unknown `when` key) never
 *   matches for ALLOW and, unlike Istio (which skips it), matches everything
 *   for DENY/AUDIT: Strait fails closed on malformed deny policies.
 */
import type { Operation, Rule, Source } from "../../config/kinds/authorization-policy.ts";
import {
  DESTINATION_PORT,
  HOSTS,
  METHODS,
  PATHS,
  REMOTE_IP,
  REQUEST_PRINCIPAL,
  SOURCE_IP,
  SOURCE_NAMESPACE,
  SOURCE_PRINCIPAL,
  SOURCE_TRUST_DOMAIN,
  sourceServiceAccount,
  whenAttribute,
  type Attribute,
  type Predicate,
} from "./attributes.ts";

/** How a failed value is treated: ALLOW narrows, DENY (also CUSTOM refused as deny) and AUDIT widen. */
export type RuleMode = "narrow" | "widen";

export interface RuleProblem {
  field: string;
  message: string;
}

/** `undefined` = the rule never matches this kind of traffic. */
export interface CompiledRule {
  http: Predicate | undefined;
  tcp: Predicate | undefined;
}

const ALWAYS: Predicate = () => true;

class RuleDropped extends Error {}

interface FieldInput {
  attribute: Attribute;
  values: readonly string[] | undefined;
  notValues: readonly string[] | undefined;
  field: string;
}

function and(preds: Predicate[]): Predicate {
  if (preds.length === 0) return ALWAYS;
  if (preds.length === 1) return preds[0]!;
  return (v) => {
    for (const p of preds) if (!p(v)) return false;
    return true;
  };
}

function or(preds: Predicate[]): Predicate {
  if (preds.length === 1) return preds[0]!;
  return (v) => {
    for (const p of preds) if (p(v)) return true;
    return false;
  };
}

class Builder {
  constructor(
    private readonly mode: RuleMode,
    private readonly forTcp: boolean,
    private readonly problems: RuleProblem[] | undefined,
  ) {}

  /** Predicates for one field (values ORed, notValues as NOT(OR)), or throws RuleDropped. */
  field(f: FieldInput): Predicate[] {
    const out: Predicate[] = [];
    const compileList = (list: readonly string[] | undefined, path: string): Predicate[] => {
      const preds: Predicate[] = [];
      (list ?? []).forEach((value, i) => {
        let result: Predicate | string;
        if (f.attribute.httpOnly && this.forTcp) result = `${f.attribute.key} is HTTP only`;
        else result = f.attribute.compile(value);
        if (typeof result !== "string") {
          preds.push(result);
          return;
        }
        // HTTP-only-on-TCP is expected, not a problem; a bad value is reported once (from the HTTP pass).
        if (!(f.attribute.httpOnly && this.forTcp)) this.problems?.push({ field: `${path}[${i}]`, message: result });
        if (this.mode === "narrow") throw new RuleDropped(result);
      });
      return preds;
    };
    const values = compileList(f.values, f.field);
    const notValues = compileList(f.notValues, notField(f.field));
    if (values.length > 0) out.push(or(values));
    if (notValues.length > 0) {
      const any = or(notValues);
      out.push((v) => !any(v));
    }
    return out;
  }

  source(s: Source | undefined, path: string, policyNamespace: string): Predicate {
    if (s === undefined) return ALWAYS;
    const fields: FieldInput[] = [
      { attribute: SOURCE_PRINCIPAL, values: s.principals, notValues: s.notPrincipals, field: `${path}.principals` },
      { attribute: REQUEST_PRINCIPAL, values: s.requestPrincipals, notValues: s.notRequestPrincipals, field: `${path}.requestPrincipals` },
      { attribute: SOURCE_NAMESPACE, values: s.namespaces, notValues: s.notNamespaces, field: `${path}.namespaces` },
      { attribute: sourceServiceAccount(policyNamespace), values: s.serviceAccounts, notValues: s.notServiceAccounts, field: `${path}.serviceAccounts` },
      { attribute: SOURCE_TRUST_DOMAIN, values: s.trustDomains, notValues: s.notTrustDomains, field: `${path}.trustDomains` },
      { attribute: SOURCE_IP, values: s.ipBlocks, notValues: s.notIpBlocks, field: `${path}.ipBlocks` },
      { attribute: REMOTE_IP, values: s.remoteIpBlocks, notValues: s.notRemoteIpBlocks, field: `${path}.remoteIpBlocks` },
    ];
    return and(fields.flatMap((f) => this.field(f)));
  }

  operation(o: Operation | undefined, path: string): Predicate {
    if (o === undefined) return ALWAYS;
    const fields: FieldInput[] = [
      { attribute: HOSTS, values: o.hosts, notValues: o.notHosts, field: `${path}.hosts` },
      { attribute: METHODS, values: o.methods, notValues: o.notMethods, field: `${path}.methods` },
      { attribute: PATHS, values: o.paths, notValues: o.notPaths, field: `${path}.paths` },
      { attribute: DESTINATION_PORT, values: o.ports, notValues: o.notPorts, field: `${path}.ports` },
    ];
    return and(fields.flatMap((f) => this.field(f)));
  }
}

function notField(path: string): string {
  const dot = path.lastIndexOf(".");
  const name = path.slice(dot + 1);
  if (name === "values") return `${path.slice(0, dot)}.notValues`;
  return `${path.slice(0, dot)}.not${name[0]!.toUpperCase()}${name.slice(1)}`;
}

function compileFor(rule: Rule, path: string, mode: RuleMode, forTcp: boolean, policyNamespace: string, problems: RuleProblem[] | undefined): Predicate | undefined {
  const b = new Builder(mode, forTcp, problems);
  try {
    const when: Predicate[] = [];
    for (const [i, c] of (rule.when ?? []).entries()) {
      const attribute = whenAttribute(c.key, policyNamespace);
      if (typeof attribute === "string") {
        problems?.push({ field: `${path}.when[${i}].key`, message: attribute });
        // Unknown attribute: the rule cannot be understood. ALLOW allows nothing with it; DENY/AUDIT match everything.
        return mode === "narrow" ? undefined : ALWAYS;
      }
      when.push(...b.field({ attribute, values: c.values, notValues: c.notValues, field: `${path}.when[${i}].values` }));
    }
    const from = (rule.from ?? []).map((f, i) => b.source(f.source, `${path}.from[${i}].source`, policyNamespace));
    const to = (rule.to ?? []).map((t, i) => b.operation(t.operation, `${path}.to[${i}].operation`));
    const parts: Predicate[] = [];
    if (from.length > 0) parts.push(or(from));
    if (to.length > 0) parts.push(or(to));
    parts.push(...when);
    return and(parts);
  } catch (err) {
    if (err instanceof RuleDropped) return undefined;
    throw err;
  }
}

/** Compiles a rule for HTTP and TCP traffic; problems (malformed values, unknown keys) are appended to `problems`. */
export function compileRule(rule: Rule, path: string, mode: RuleMode, policyNamespace: string, problems: RuleProblem[]): CompiledRule {
  return {
    http: compileFor(rule, path, mode, false, policyNamespace, problems),
    // Problems were collected by the HTTP pass; the TCP pass only differs for HTTP-only attributes.
    tcp: compileFor(rule, path, mode, true, policyNamespace, undefined),
  };
}
