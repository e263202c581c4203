import type { JWTRule, RequestAuthenticationSpec } from "../kinds/request-authentication.ts";
import { checkPolicyTargets, stringListShape, targetRefShape, workloadSelectorShape } from "./common.ts";
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

/** `ValidateStrictHTTPHeaderName`: letters, digits and `-` only. */
const STRICT_HEADER = /^[-A-Za-z0-9]+$/;

/** Istio's `ValidateRequestAuthentication` / `validateJwtRule`. */
export const requestAuthenticationValidator: KindValidator<RequestAuthenticationSpec> = {
  shape,
  check(spec, ctx) {
    const r = ctx.report;
    checkPolicyTargets(spec, ctx.namespace, r);
    spec.jwtRules?.forEach((rule, i) => checkJwtRule(rule, `spec.jwtRules[${i}]`, r));
  },
};

function checkJwtRule(rule: JWTRule, p: string, r: Report): void {
  rule.audiences?.forEach((a, i) => {
    if (a === "") r.error(`${p}.audiences[${i}]`, "audience must be non-empty string");
  });
  if (rule.issuer === "" && (rule.jwksUri ?? "") === "") r.error(`${p}.issuer`, "issuer or jwksUri must be non-empty string");
  if (rule.jwksUri !== undefined && rule.jwksUri !== "") {
    let scheme: string | undefined;
    try {
      scheme = new URL(rule.jwksUri).protocol;
    } catch {
      scheme = undefined;
    }
    if (scheme === undefined) r.error(`${p}.jwksUri`, `must be a URL (got ${JSON.stringify(rule.jwksUri)})`);
    else if (scheme !== "http:" && scheme !== "https:") r.error(`${p}.jwksUri`, `URI scheme ${JSON.stringify(scheme.slice(0, -1))} is not supported`);
  }
  if ((rule.jwks ?? "") !== "" && (rule.jwksUri ?? "") !== "") r.warn(`${p}.jwksUri`, "both jwks and jwksUri are set: the inline jwks is used and jwksUri is ignored");
  if (rule.jwks !== undefined && rule.jwks !== "") {
    const problem = jwksProblem(rule.jwks);
    if (problem !== undefined) r.error(`${p}.jwks`, `jwks parse error: ${problem}`);
  }
  rule.fromHeaders?.forEach((h, i) => {
    if (h.name === "") r.error(`${p}.fromHeaders[${i}].name`, "location header name must be non-empty string");
  });
  rule.fromParams?.forEach((q, i) => {
    if (q === "") r.error(`${p}.fromParams[${i}]`, "location query must be non-empty string");
  });
  rule.fromCookies?.forEach((c, i) => {
    if (c === "") r.error(`${p}.fromCookies[${i}]`, "cookie name must be non-empty string");
  });
  rule.spaceDelimitedClaims?.forEach((c, i) => {
    if (c === "") r.error(`${p}.spaceDelimitedClaims[${i}]`, "claim name must be non-empty string");
  });
  rule.outputClaimToHeaders?.forEach((o, i) => {
    const op = `${p}.outputClaimToHeaders[${i}]`;
    if (o.claim === "" || o.header === "") r.error(o.header === "" ? `${op}.header` : `${op}.claim`, "outputClaimToHeaders header and claim value must be non-empty string");
    else if (!STRICT_HEADER.test(o.header)) r.error(`${op}.header`, `header name ${o.header} is not a valid header name (letters, digits and "-" only)`);
  });
}

/**
 * What jwx `jwk.Parse` refuses: the value must be a JWK Set (`{"keys": [...]}`)
 * or a single JWK (an object with `kty`).
 */
function jwksProblem(text: string): string | undefined {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    return err instanceof Error ? err.message : "not JSON";
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return "expected a JSON object (a JWK Set or a JWK)";
  const o = v as Record<string, unknown>;
  if ("keys" in o) {
    if (!Array.isArray(o.keys)) return '"keys" must be an array';
    const bad = o.keys.findIndex((k) => typeof k !== "object" || k === null || typeof (k as Record<string, unknown>).kty !== "string");
    return bad < 0 ? undefined : `keys[${bad}] is not a JWK (no "kty")`;
  }
  return typeof o.kty === "string" ? undefined : 'expected a JWK Set ("keys") or a JWK ("kty")';
}
