import type { JWTRule, RequestAuthenticationSpec } from "../kinds/request-authentication.ts";
import { checkNonEmptyStrings, checkPolicyTargets, stringListShape, targetRefShape, workloadSelectorShape } from "./common.ts";
import type { KindValidator } from "./kind-validator.ts";
import type { Report } from "./report.ts";
import { arr, bool, duration, obj, oneOf, req, str } from "./shape.ts";

const shape = obj<RequestAuthenticationSpec>({
  selector: workloadSelectorShape,
  targetRef: targetRefShape,
  targetRefs: arr(targetRefShape),
  jwtRules: arr(
    obj<JWTRule>({
      issuer: req(str()),
      audiences: stringListShape,
      jwksUri: str(),
      jwks: str(),
      fromHeaders: arr(obj<{ name: string; prefix?: string }>({ name: req(str()), prefix: str() })),
      fromParams: stringListShape,
      fromCookies: stringListShape,
      outputPayloadToHeader: str(),
      forwardOriginalToken: bool(),
      outputClaimToHeaders: arr(obj<{ header: string; claim: string }>({ header: req(str()), claim: req(str()) })),
      timeout: duration(),
      spaceDelimitedClaims: stringListShape,
      presence: oneOf(["OPTIONAL", "REQUIRED"]),
    }),
  ),
});

const OUTPUT_HEADER = /^[-_A-Za-z0-9]+$/;

export const requestAuthenticationValidator: KindValidator<RequestAuthenticationSpec> = {
  shape,
  check(spec, ctx) {
    const r = ctx.report;
    checkPolicyTargets(spec, ctx.namespace, r);
    const issuers = new Map<string, number>();
    spec.jwtRules?.forEach((rule, i) => {
      const p = `spec.jwtRules[${i}]`;
      checkJwtRule(rule, p, r);
      const prev = issuers.get(rule.issuer);
      if (prev !== undefined && rule.issuer !== "") r.error(`${p}.issuer`, `duplicate issuer ${JSON.stringify(rule.issuer)} (also spec.jwtRules[${prev}])`);
      else issuers.set(rule.issuer, i);
    });
  },
};

function checkJwtRule(rule: JWTRule, p: string, r: Report): void {
  if (rule.issuer === "") r.error(`${p}.issuer`, "must not be empty");
  if (rule.jwks !== undefined && rule.jwksUri !== undefined) r.error(`${p}.jwks`, "jwks and jwksUri are mutually exclusive");
  if (rule.jwksUri !== undefined) {
    let ok = false;
    try {
      const u = new URL(rule.jwksUri);
      ok = u.protocol === "https:" || u.protocol === "http:";
    } catch {
      ok = false;
    }
    if (!ok) r.error(`${p}.jwksUri`, `must be an http or https URL (got ${JSON.stringify(rule.jwksUri)})`);
  }
  if (rule.jwks !== undefined) {
    let keys: unknown;
    try {
      keys = (JSON.parse(rule.jwks) as { keys?: unknown }).keys;
    } catch {
      keys = undefined;
    }
    if (!Array.isArray(keys)) r.error(`${p}.jwks`, 'must be a JWKS JSON document with a "keys" array');
  }
  checkNonEmptyStrings(rule.audiences, `${p}.audiences`, r);
  checkNonEmptyStrings(rule.fromParams, `${p}.fromParams`, r);
  checkNonEmptyStrings(rule.fromCookies, `${p}.fromCookies`, r);
  rule.fromHeaders?.forEach((h, i) => {
    if (h.name === "") r.error(`${p}.fromHeaders[${i}].name`, "must not be empty");
  });
  rule.outputClaimToHeaders?.forEach((o, i) => {
    if (!OUTPUT_HEADER.test(o.header)) r.error(`${p}.outputClaimToHeaders[${i}].header`, `must match ^[-_A-Za-z0-9]+$ (got ${JSON.stringify(o.header)})`);
    if (o.claim === "") r.error(`${p}.outputClaimToHeaders[${i}].claim`, "must not be empty");
  });
  if (rule.outputPayloadToHeader !== undefined && !OUTPUT_HEADER.test(rule.outputPayloadToHeader)) {
    r.error(`${p}.outputPayloadToHeader`, `must match ^[-_A-Za-z0-9]+$ (got ${JSON.stringify(rule.outputPayloadToHeader)})`);
  }
}
