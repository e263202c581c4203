import type { CorsPolicyPlan, CorsPreflightResult, RequestFacts } from "./types.ts";

export function corsPreflight(_policy: CorsPolicyPlan, _facts: RequestFacts): CorsPreflightResult {
  throw new Error("not implemented");
}
export function corsResponseHeaders(_policy: CorsPolicyPlan, _facts: RequestFacts): [string, string][] {
  throw new Error("not implemented");
}
