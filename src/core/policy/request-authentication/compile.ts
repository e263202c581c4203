/**
 * RequestAuthentication for one target, with the requirement Istio gives
 * Envoy's `jwt_authn` filter (pilot `authn/policy_applier.go`):
 *
 * - one rule: `{rule OR allow_missing}` — a token at the rule's locations
 *   must be valid; no token is anonymous;
 * - several rules: `{R1 OR R2 ... OR AND{R1 OR missing, R2 OR missing ...}}`
 *   — the request passes when some rule fully validates its tokens, or when
 *   every rule either validates or finds no token at its locations.
 *
 * - any rule with `presence: REQUIRED` (istio/istio#60830): `AND(Ri)` for
 *   required rules and `AND(Rj OR missing)` for the others, without the
 *   outer OR — a required token must be present and valid.
 *
 * A rule "validates" when every token found at its locations is a JWT of its
 * issuer with a good signature, time and audience (several tokens: all must
 * be valid, as in Envoy). A token whose issuer no rule accepts fails (401).
 * Clients cannot forge outputs: headers named by `outputPayloadToHeader` and
 * `outputClaimToHeaders` are removed from every request first.
 */
import type { Clock } from "../../clock.ts";
import type { RequestAuthenticationSpec } from "../../config/kinds/request-authentication.ts";
import type { CompiledPolicy } from "../../snapshot/snapshot-model.ts";
import type { JwksResolver } from "../jwks-resolver.ts";
import { claimByPath, claimHeaderValue, normalizeClaims } from "./claims.ts";
import { compileJwtRule, JWT_MESSAGES, type CompiledJwtRule, type VerifiedToken } from "./jwt-rule.ts";
import { RequestTokens, type FoundToken } from "./token-locations.ts";
import type { AuthnHeaderOp, AuthnRequest, AuthnResult, RequestAuthenticator } from "./types.ts";

export interface RequestAuthenticationOptions {
  jwks: JwksResolver;
  clock: Clock;
  /** Target `<ns>/<name>`; when given only policies whose `appliesTo` names it are used. */
  forWorkload?: string;
  /** Allowed clock skew for `exp`/`nbf`, seconds (Envoy's default: 60). */
  clockSkewSeconds?: number;
}

type RuleOutcome =
  | { status: "missing" }
  | { status: "ok"; tokens: { found: FoundToken; verified: VerifiedToken }[] }
  | { status: "fail"; message: string };

async function runRule(rule: CompiledJwtRule, tokens: RequestTokens): Promise<RuleOutcome> {
  const found = tokens.find(rule.locations);
  if (found.length === 0) return { status: "missing" };
  const ok: { found: FoundToken; verified: VerifiedToken }[] = [];
  for (const f of found) {
    const r = await rule.verify(f.token);
    if (!r.ok) return { status: "fail", message: r.message };
    ok.push({ found: f, verified: r.token });
  }
  return { status: "ok", tokens: ok };
}

function isCorsPreflight(req: AuthnRequest): boolean {
  // Istio sets `bypass_cors_preflight`: preflights carry no credentials. Envoy's test: OPTIONS with
  // a non-empty Origin and a non-empty Access-Control-Request-Method.
  return req.method === "OPTIONS" && (req.headers.get("origin") ?? "") !== "" && (req.headers.get("access-control-request-method") ?? "") !== "";
}

function audiencesOf(aud: unknown): string[] {
  if (typeof aud === "string") return [aud];
  if (Array.isArray(aud)) return aud.filter((a): a is string => typeof a === "string");
  return [];
}

/**
 * @example
 * const authn = compileRequestAuthentication(snapshot.requestAuthentications, { jwks, clock: systemClock, forWorkload: "foo/httpbin" });
 * const r = await authn.authenticate({ method: "GET", url: "/headers", headers });
 * if (r.kind === "invalid") return new Response(r.message, { status: 401 });
 */
export function compileRequestAuthentication(
  policies: readonly CompiledPolicy<RequestAuthenticationSpec>[],
  options: RequestAuthenticationOptions,
): RequestAuthenticator {
  const problems: { policy: string; field?: string; message: string }[] = [];
  const rules: CompiledJwtRule[] = [];
  const ctx = { jwks: options.jwks, clock: options.clock, clockSkewSeconds: options.clockSkewSeconds ?? 60 };
  for (const policy of policies) {
    if (options.forWorkload !== undefined && !policy.appliesTo.includes(options.forWorkload)) continue;
    const name = `${policy.source.namespace}/${policy.source.name}`;
    (policy.spec.jwtRules ?? []).forEach((rule, i) => {
      let compiled: ReturnType<typeof compileJwtRule>;
      try {
        compiled = compileJwtRule(rule, name, ctx);
      } catch (err) {
        // A rule of the wrong shape (not from the validator): its tokens (default locations) are rejected.
        compiled = compileJwtRule({ issuer: typeof rule?.issuer === "string" ? rule.issuer : "", jwks: "{}" }, name, ctx);
        compiled.problem = `malformed rule: ${err instanceof Error ? err.message : String(err)}`;
      }
      if (compiled.problem !== undefined) problems.push({ policy: name, field: `spec.jwtRules[${i}]`, message: compiled.problem });
      rules.push(compiled.rule);
    });
  }
  // Istio sorts rules by issuer so the generated config is deterministic; the principal of a
  // request that satisfies several rules comes from the first.
  rules.sort((a, b) => (a.issuer < b.issuer ? -1 : a.issuer > b.issuer ? 1 : 0));

  const anyRequired = rules.some((r) => r.rule.presence === "REQUIRED");
  const sanitized = new Set<string>();
  for (const r of rules) {
    if (r.rule.outputPayloadToHeader !== undefined) sanitized.add(r.rule.outputPayloadToHeader.toLowerCase());
    for (const o of r.rule.outputClaimToHeaders ?? []) sanitized.add(o.header.toLowerCase());
  }
  const sanitizeOps: AuthnHeaderOp[] = [...sanitized].sort().map((name) => ({ op: "remove", name }));

  return {
    problems: Object.freeze(problems),
    active: rules.length > 0,
    async authenticate(req: AuthnRequest): Promise<AuthnResult> {
      if (rules.length === 0 || isCorsPreflight(req)) return { kind: "anonymous", requestHeaders: [...sanitizeOps] };
      const tokens = new RequestTokens(req.headers, req.url);
      const outcomes = await Promise.all(rules.map((r) => runRule(r, tokens)));
      const anyOk = outcomes.some((o) => o.status === "ok");
      const allOkOrMissing = outcomes.every((o) => o.status !== "fail");
      const missingRequired = outcomes.some((o, i) => o.status === "missing" && rules[i]!.rule.presence === "REQUIRED");
      const pass = anyRequired ? allOkOrMissing && !missingRequired : rules.length === 1 ? allOkOrMissing : anyOk || allOkOrMissing;
      if (!pass) {
        const failed = outcomes.find((o): o is Extract<RuleOutcome, { status: "fail" }> => o.status === "fail");
        return { kind: "invalid", message: failed?.message ?? JWT_MESSAGES.missing };
      }
      if (!anyOk) return { kind: "anonymous", requestHeaders: [...sanitizeOps] };

      const set = new Map<string, string[]>();
      const removeHeaders = new Set<string>();
      const removeQueryParams = new Set<string>();
      let first: { rule: CompiledJwtRule; verified: VerifiedToken } | undefined;
      outcomes.forEach((o, i) => {
        if (o.status !== "ok") return;
        const rule = rules[i]!;
        for (const { found, verified } of o.tokens) {
          first ??= { rule, verified };
          const add = (name: string, value: string) => {
            const key = name.toLowerCase();
            set.set(key, [...(set.get(key) ?? []), value]);
          };
          if (rule.rule.outputPayloadToHeader !== undefined) add(rule.rule.outputPayloadToHeader, verified.payloadSegment);
          for (const o2 of rule.rule.outputClaimToHeaders ?? []) {
            const value = claimHeaderValue(claimByPath(verified.payload as Record<string, unknown>, o2.claim));
            if (value !== undefined) add(o2.header, value);
          }
          if (rule.rule.forwardOriginalToken !== true) {
            if (found.location.kind === "header") removeHeaders.add(found.location.name);
            else if (found.location.kind === "param") removeQueryParams.add(found.location.name);
            // Envoy does not remove tokens taken from cookies.
          }
        }
      });
      const requestHeaders: AuthnHeaderOp[] = [...sanitizeOps];
      for (const name of [...removeHeaders].sort()) if (!sanitized.has(name)) requestHeaders.push({ op: "remove", name });
      for (const [name, values] of set) requestHeaders.push({ op: "set", name, value: values.join(",") });

      const { rule, verified } = first!;
      const payload = verified.payload as Record<string, unknown>;
      const iss = typeof payload["iss"] === "string" ? payload["iss"] : rule.issuer;
      const sub = typeof payload["sub"] === "string" ? payload["sub"] : undefined;
      const result: AuthnResult = {
        kind: "authenticated",
        principal: `${iss}/${sub ?? ""}`,
        issuer: iss,
        audiences: audiencesOf(payload["aud"]),
        claims: normalizeClaims(payload, rule.spaceDelimitedClaims),
        requestHeaders,
        removeQueryParams: [...removeQueryParams].sort(),
      };
      if (sub !== undefined) result.subject = sub;
      if (typeof payload["azp"] === "string") result.presenter = payload["azp"];
      return result;
    },
  };
}
