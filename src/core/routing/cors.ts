/**
 * `corsPolicy` (Envoy CORS filter, as Istio configures it). Origins match
 * `allowOrigins` StringMatches (exact, prefix, RE2 regex) or the deprecated
 * `allowOrigin` strings (exact; `*` allows any origin). A preflight (OPTIONS
 * with `Origin` and `Access-Control-Request-Method`) from an allowed origin is
 * answered 200 with the configured lists echoed as configured, comma-joined,
 * even when the requested method is not among them (istio-semantics.md §7.9);
 * `maxAge` is sent in seconds; `allowMethods`/`allowHeaders` of exactly `*`
 * echo the request's `Access-Control-Request-Method`/`-Headers` (Envoy). A
 * preflight from any other origin goes upstream (`unmatchedPreflights:
 * FORWARD`, the default) or gets a 200 with the lists but no allow-origin
 * (`IGNORE`, as Envoy's CORS filter answers it).
 */
import type { CorsPolicy } from "../config/kinds/virtual-service.ts";
import { parseDurationMs } from "../config/duration.ts";
import { compileStringMatch } from "./string-match.ts";
import type { CorsPolicyPlan, CorsPreflightResult, OriginMatcher, RequestFacts } from "./types.ts";

export function compileCors(c: CorsPolicy | undefined, field: string): CorsPolicyPlan | undefined {
  if (c === undefined) return undefined;
  const allowOrigins: OriginMatcher[] = [];
  (c.allowOrigins ?? []).forEach((sm, i) => {
    const m = compileStringMatch(sm, `${field}.allowOrigins[${i}]`);
    // Envoy also accepts an origin matcher that matches the literal "*".
    allowOrigins.push({ matches: (o) => m.test(o) || m.test("*") });
  });
  for (const o of c.allowOrigin ?? []) allowOrigins.push({ matches: (x) => o === "*" || x === o });
  const plan: CorsPolicyPlan = {
    allowOrigins,
    allowMethods: c.allowMethods ?? [],
    allowHeaders: c.allowHeaders ?? [],
    exposeHeaders: c.exposeHeaders ?? [],
    unmatchedPreflights: c.unmatchedPreflights === "IGNORE" ? "IGNORE" : "FORWARD",
  };
  if (c.maxAge !== undefined) {
    const ms = parseDurationMs(c.maxAge);
    if (ms !== undefined) plan.maxAgeSeconds = Math.floor(ms / 1000);
  }
  if (c.allowCredentials !== undefined) plan.allowCredentials = c.allowCredentials;
  return plan;
}

function originAllowed(policy: CorsPolicyPlan, origin: string): boolean {
  return policy.allowOrigins.some((m) => m.matches(origin));
}

/**
 * Decides a CORS preflight. Call before forwarding a request whose plan has `cors`.
 * @example corsPreflight(plan.cors, facts).kind === "respond"
 */
export function corsPreflight(policy: CorsPolicyPlan, facts: RequestFacts): CorsPreflightResult {
  const origin = facts.headers.get("origin");
  if (facts.method.toUpperCase() !== "OPTIONS" || origin === undefined || origin === "" || (facts.headers.get("access-control-request-method") ?? "") === "") {
    return { kind: "not-preflight" };
  }
  const allowed = originAllowed(policy, origin);
  if (!allowed && policy.unmatchedPreflights !== "IGNORE") return { kind: "forward" };
  // Envoy's CORS filter: the lists go on every preflight it answers (an unmatched one under IGNORE
  // too); only allow-origin depends on the origin. A list that is exactly "*" echoes the request's.
  const headers: [string, string][] = allowed ? [["access-control-allow-origin", origin]] : [];
  if (policy.allowCredentials === true) headers.push(["access-control-allow-credentials", "true"]);
  const methods = policy.allowMethods.join(",");
  if (methods !== "") headers.push(["access-control-allow-methods", methods === "*" ? (facts.headers.get("access-control-request-method") ?? "") : methods]);
  const allowHeaders = policy.allowHeaders.join(",");
  if (allowHeaders !== "") headers.push(["access-control-allow-headers", allowHeaders === "*" ? (facts.headers.get("access-control-request-headers") ?? "") : allowHeaders]);
  if (policy.maxAgeSeconds !== undefined) headers.push(["access-control-max-age", String(policy.maxAgeSeconds)]);
  return { kind: "respond", status: 200, headers };
}

/** Headers to add to an actual (non-preflight) response for an allowed origin; empty otherwise. */
export function corsResponseHeaders(policy: CorsPolicyPlan, facts: RequestFacts): [string, string][] {
  const origin = facts.headers.get("origin");
  if (origin === undefined || origin === "" || !originAllowed(policy, origin)) return [];
  const headers: [string, string][] = [["access-control-allow-origin", origin]];
  if (policy.allowCredentials === true) headers.push(["access-control-allow-credentials", "true"]);
  if (policy.exposeHeaders.length > 0) headers.push(["access-control-expose-headers", policy.exposeHeaders.join(",")]);
  return headers;
}
