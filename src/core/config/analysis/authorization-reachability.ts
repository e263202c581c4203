import type { Rule, Source, Operation } from "../kinds/authorization-policy.ts";
import type { MtlsMode } from "../kinds/peer-authentication.ts";
import type { ResourceOf } from "../resource.ts";
import type { AnalysisContext } from "./context.ts";
import { finding, type Finding } from "./finding.ts";

type Policy = ResourceOf<"AuthorizationPolicy">;

const TWINS: readonly [keyof Source | keyof Operation, string][] = [
  ["principals", "notPrincipals"],
  ["requestPrincipals", "notRequestPrincipals"],
  ["namespaces", "notNamespaces"],
  ["serviceAccounts", "notServiceAccounts"],
  ["ipBlocks", "notIpBlocks"],
  ["remoteIpBlocks", "notRemoteIpBlocks"],
  ["trustDomains", "notTrustDomains"],
  ["hosts", "notHosts"],
  ["ports", "notPorts"],
  ["methods", "notMethods"],
  ["paths", "notPaths"],
];

/**
 * AuthorizationPolicy rules that can never match (or, for DENY with a negated
 * field, match everything), so the policy does not do what it says:
 * - STR0001: a field and its `not` twin (or `values`/`notValues`) share a value;
 * - STR0002: the rule needs the peer identity (principals, namespaces,
 *   serviceAccounts) but mTLS is DISABLE for the namespace, so there is none;
 * - STR0003: the rule needs JWT attributes but no RequestAuthentication applies.
 */
export function checkAuthorizationReachability(ctx: AnalysisContext): Finding[] {
  const out: Finding[] = [];
  for (const ap of ctx.of("AuthorizationPolicy")) {
    const action = ap.spec.action ?? "ALLOW";
    ap.spec.rules?.forEach((rule, i) => {
      const path = `spec.rules[${i}]`;
      out.push(...contradictions(ap, rule, path));
      const needsPeer = usesPeerIdentity(rule);
      if (needsPeer !== undefined && namespaceMtlsMode(ctx, ap.metadata.namespace) === "DISABLE") {
        out.push(
          finding(
            "STR0002",
            ap,
            `rule #${i} uses ${needsPeer} but mTLS is DISABLE in namespace ${ap.metadata.namespace}, so there is no peer identity: ${
              action === "ALLOW" ? "this rule never allows anything" : "this rule never matches"
            }`,
            path,
          ),
        );
      }
      const needsJwt = usesJwt(rule);
      if (needsJwt !== undefined && !requestAuthenticationApplies(ctx, ap)) {
        out.push(
          finding(
            "STR0003",
            ap,
            `rule #${i} uses ${needsJwt} but no RequestAuthentication applies in namespace ${ap.metadata.namespace}, so requests carry no JWT identity: ${
              needsJwt.startsWith("notRequestPrincipals") ? "the negated condition matches every request" : "this rule never matches"
            }`,
            path,
          ),
        );
      }
    });
  }
  return out;
}

function contradictions(ap: Policy, rule: Rule, path: string): Finding[] {
  const out: Finding[] = [];
  const check = (obj: Record<string, string[] | undefined> | undefined, base: string) => {
    if (obj === undefined) return;
    for (const [pos, neg] of TWINS) {
      const both = (obj[pos] ?? []).filter((v) => (obj[neg] ?? []).includes(v));
      if (both.length > 0) out.push(finding("STR0001", ap, `${pos} and ${neg} both contain ${JSON.stringify(both)}: this entry can never match`, `${base}.${neg}`));
    }
  };
  rule.from?.forEach((f, j) => check(f.source as Record<string, string[] | undefined> | undefined, `${path}.from[${j}].source`));
  rule.to?.forEach((t, j) => check(t.operation as Record<string, string[] | undefined> | undefined, `${path}.to[${j}].operation`));
  rule.when?.forEach((c, j) => {
    const both = (c.values ?? []).filter((v) => (c.notValues ?? []).includes(v));
    if (both.length > 0) out.push(finding("STR0001", ap, `values and notValues of ${c.key} both contain ${JSON.stringify(both)}: this condition can never match`, `${path}.when[${j}]`));
  });
  return out;
}

function usesPeerIdentity(rule: Rule): string | undefined {
  for (const f of rule.from ?? []) {
    for (const k of ["principals", "namespaces", "serviceAccounts"] as const) if (f.source?.[k] !== undefined) return `source.${k}`;
  }
  for (const c of rule.when ?? []) if (["source.principal", "source.namespace", "source.serviceAccount"].includes(c.key)) return `when ${c.key}`;
  return undefined;
}

function usesJwt(rule: Rule): string | undefined {
  for (const f of rule.from ?? []) {
    if (f.source?.requestPrincipals !== undefined) return "requestPrincipals";
    if (f.source?.notRequestPrincipals !== undefined) return "notRequestPrincipals";
  }
  for (const c of rule.when ?? []) if (c.key.startsWith("request.auth.")) return `when ${c.key}`;
  return undefined;
}

/** Namespace-wide mode: the namespace's selector-less PeerAuthentication, else the root one; UNSET inherits. */
function namespaceMtlsMode(ctx: AnalysisContext, namespace: string): MtlsMode {
  const selectorless = (ns: string) =>
    ctx
      .of("PeerAuthentication")
      .filter((pa) => pa.metadata.namespace === ns && Object.keys(pa.spec.selector?.matchLabels ?? {}).length === 0)
      .sort(oldestFirst)[0];
  for (const pa of [selectorless(namespace), selectorless(ctx.rootNamespace)]) {
    const mode = pa?.spec.mtls?.mode;
    if (mode !== undefined && mode !== "UNSET") return mode;
  }
  return "PERMISSIVE";
}

function oldestFirst(a: { metadata: { creationTimestamp?: string; name: string } }, b: { metadata: { creationTimestamp?: string; name: string } }): number {
  const ka = `${a.metadata.creationTimestamp ?? ""}\u0000${a.metadata.name}`;
  const kb = `${b.metadata.creationTimestamp ?? ""}\u0000${b.metadata.name}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** A RequestAuthentication in the root namespace, or in the policy's namespace (selector-less, or the same selector). */
function requestAuthenticationApplies(ctx: AnalysisContext, ap: Policy): boolean {
  const apSel = ap.spec.selector?.matchLabels ?? {};
  return ctx.of("RequestAuthentication").some((ra) => {
    if (ra.metadata.namespace === ctx.rootNamespace) return true;
    if (ra.metadata.namespace !== ap.metadata.namespace) return false;
    const raSel = ra.spec.selector?.matchLabels ?? {};
    // The RA covers the policy's workloads when its selector is no narrower than the policy's.
    return Object.entries(raSel).every(([k, v]) => apSel[k] === v);
  });
}
