/**
 * The policy conformance suite: the AuthorizationPolicy case table, JWT
 * verification with tokens and keys made by the caller, and PeerAuthentication
 * composition. Runtime-free; runtimes.test.ts runs it on Node, in workerd and
 * on Deno and requires identical results.
 */
import { ManualClock } from "../../../../src/core/clock.ts";
import { compileRequestAuthentication, createJwksResolver, resolvePeerAuthentication } from "../../../../src/core/policy/index.ts";
import type { CompiledPolicy } from "../../../../src/core/snapshot/snapshot-model.ts";
import type { PeerAuthenticationSpec } from "../../../../src/core/config/kinds/peer-authentication.ts";
import { runAuthzCases } from "../authz-cases.ts";

export interface PolicySuiteInput {
  now: number;
  issuer: string;
  /** Public JWKS (inline) for the issuer. */
  jwks: string;
  /** Tokens by case name, signed by the caller. */
  tokens: Record<string, string>;
}

export async function runPolicySuite(input: PolicySuiteInput): Promise<Record<string, unknown>> {
  const clock = new ManualClock(input.now);
  const resolver = createJwksResolver({ clock, fetch: () => Promise.reject(new Error("no network")) });
  const authn = compileRequestAuthentication(
    [
      {
        source: { kind: "RequestAuthentication", namespace: "foo", name: "jwt" },
        scope: "workload",
        appliesTo: ["foo/httpbin"],
        spec: { jwtRules: [{ issuer: input.issuer, jwks: input.jwks, audiences: ["api"], outputClaimToHeaders: [{ header: "x-sub", claim: "sub" }] }] },
      },
    ],
    { jwks: resolver, clock },
  );
  const authnResults: Record<string, unknown> = {};
  for (const [name, token] of Object.entries(input.tokens).sort(([a], [b]) => (a < b ? -1 : 1))) {
    authnResults[name] = await authn.authenticate({ method: "GET", url: "/", headers: new Map([["authorization", `Bearer ${token}`]]) });
  }
  authnResults["missing"] = await authn.authenticate({ method: "GET", url: "/", headers: new Map() });

  const pa = (scope: "mesh" | "namespace" | "workload", spec: PeerAuthenticationSpec): CompiledPolicy<PeerAuthenticationSpec> => ({
    source: { kind: "PeerAuthentication", namespace: scope === "mesh" ? "istio-system" : "foo", name: scope },
    scope,
    appliesTo: ["foo/httpbin"],
    spec,
  });
  const peer = [
    resolvePeerAuthentication([], "foo/httpbin", 80),
    resolvePeerAuthentication([pa("mesh", { mtls: { mode: "PERMISSIVE" } })], "foo/httpbin", 80),
    resolvePeerAuthentication([pa("mesh", { mtls: { mode: "PERMISSIVE" } }), pa("workload", { selector: { matchLabels: { app: "httpbin" } }, portLevelMtls: { "80": { mode: "DISABLE" } } })], "foo/httpbin", 80),
  ];
  return { authz: runAuthzCases(), authn: authnResults, peer };
}
