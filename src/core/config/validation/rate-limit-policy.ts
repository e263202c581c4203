import type { RateLimitClientSelector, RateLimitPolicySpec, RateLimitRule, RateLimitTargetRef } from "../kinds/rate-limit-policy.ts";
import { checkDns1123Subdomain, checkHeaderName, isCidr } from "./common.ts";
import type { KindValidator } from "./kind-validator.ts";
import type { Report } from "./report.ts";
import { arr, bool, int, obj, oneOf, req, str } from "./shape.ts";

/** Most requests a rule may allow per unit (a larger count is a typo, not a limit). */
export const MAX_RATE_LIMIT_REQUESTS = 1_000_000_000;

const shape = obj<RateLimitPolicySpec>({
  targetRefs: req(
    arr(
      obj<RateLimitTargetRef>({
        kind: req(oneOf(["VirtualService", "Gateway"])),
        group: str(),
        name: req(str()),
        namespace: str(),
        sectionName: str(),
      }),
    ),
  ),
  rateLimit: req(
    obj<RateLimitPolicySpec["rateLimit"]>({
      type: req(oneOf(["Global"])),
      global: req(
        obj<{ rules: RateLimitRule[] }>({
          rules: req(
            arr(
              obj<RateLimitRule>({
                clientSelectors: arr(
                  obj<RateLimitClientSelector>({
                    headers: arr(
                      obj<NonNullable<RateLimitClientSelector["headers"]>[number]>({
                        name: req(str()),
                        type: oneOf(["Exact", "Distinct"]),
                        value: str(),
                        invert: bool(),
                      }),
                    ),
                    sourceCIDR: obj<NonNullable<RateLimitClientSelector["sourceCIDR"]>>({ type: oneOf(["Exact", "Distinct"]), value: req(str()) }),
                  }),
                ),
                limit: req(obj<RateLimitRule["limit"]>({ requests: req(int({ min: 1, max: MAX_RATE_LIMIT_REQUESTS })), unit: req(oneOf(["Second", "Minute", "Hour"])) })),
              }),
            ),
          ),
        }),
      ),
    }),
  ),
});

export const rateLimitPolicyValidator: KindValidator<RateLimitPolicySpec> = {
  shape,
  check(spec, ctx) {
    const r = ctx.report;
    if (spec.targetRefs.length === 0) r.error("spec.targetRefs", "at least one target is required");
    spec.targetRefs.forEach((t, i) => checkTarget(t, `spec.targetRefs[${i}]`, ctx.namespace, r));
    const rules = spec.rateLimit.global.rules;
    if (rules.length === 0) r.error("spec.rateLimit.global.rules", "at least one rule is required");
    rules.forEach((rule, i) => {
      rule.clientSelectors?.forEach((s, j) => checkSelector(s, `spec.rateLimit.global.rules[${i}].clientSelectors[${j}]`, r));
    });
  },
};

function checkTarget(t: RateLimitTargetRef, p: string, namespace: string, r: Report): void {
  if (t.group !== undefined && t.group !== "" && t.group !== "networking.istio.io") r.error(`${p}.group`, `must be networking.istio.io (got ${JSON.stringify(t.group)})`);
  if (t.name === "") r.error(`${p}.name`, "must not be empty");
  else checkDns1123Subdomain(t.name, `${p}.name`, r);
  if (t.namespace !== undefined && t.namespace !== namespace) r.error(`${p}.namespace`, `must be the policy's own namespace ${namespace} (got ${JSON.stringify(t.namespace)})`);
  if (t.sectionName !== undefined) {
    if (t.kind !== "VirtualService") r.error(`${p}.sectionName`, "only a VirtualService target may name an http route");
    else if (t.sectionName === "") r.error(`${p}.sectionName`, "must not be empty");
  }
}

function checkSelector(s: RateLimitClientSelector, p: string, r: Report): void {
  if (s.headers === undefined && s.sourceCIDR === undefined) r.error(p, "a client selector needs headers or sourceCIDR");
  s.headers?.forEach((h, k) => {
    const hp = `${p}.headers[${k}]`;
    if (h.name.startsWith("@")) r.error(`${hp}.name`, "must be an HTTP header name (JWT claim routes are not rate-limit keys)");
    else checkHeaderName(h.name, `${hp}.name`, r);
    const type = h.type ?? "Exact";
    if (type === "Exact" && (h.value === undefined || h.value === "")) r.error(`${hp}.value`, "an Exact header match needs a value");
    if (type === "Distinct" && h.value !== undefined) r.error(`${hp}.value`, "a Distinct header match takes no value (one bucket per value)");
    if (type === "Distinct" && h.invert === true) r.error(`${hp}.invert`, "a Distinct header match cannot be inverted");
  });
  if (s.sourceCIDR !== undefined && !isCidr(s.sourceCIDR.value)) r.error(`${p}.sourceCIDR.value`, `must be a CIDR like 10.0.0.0/8 (got ${JSON.stringify(s.sourceCIDR.value)})`);
}
