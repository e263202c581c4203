/**
 * Runtime-free policy core shared by the edge gateway and the node proxy:
 * AuthorizationPolicy evaluation, RequestAuthentication (JWT) and
 * PeerAuthentication mode resolution, with Istio's semantics.
 *
 * Compile once per snapshot, evaluate per request:
 *
 * ```ts
 * const authz = compileAuthorization(snapshot.authorizationPolicies, "default/httpbin");
 * const decision = authz.evaluate({ source: { principal, ip }, request: { host, method, path, headers, auth }, destination: { port: 8080 } });
 * if (!decision.allow) return new Response("RBAC: access denied", { status: 403 });
 *
 * const jwks = createJwksResolver({ clock: systemClock });
 * const authn = compileRequestAuthentication(snapshot.requestAuthentications, { jwks, clock: systemClock, forWorkload: "default/httpbin" });
 * const result = await authn.authenticate({ headers, url }); // invalid -> 401
 *
 * const mode = resolvePeerAuthentication(snapshot.peerAuthentications, "default/httpbin", 8080); // "STRICT" | "PERMISSIVE" | "DISABLE"
 * ```
 */
export type {
  AuthorizationEngine,
  AuthzContext,
  AuthzDecision,
  AuthzRequest,
  AuthzRequestAuth,
  AuthzSource,
  PolicyProblem,
} from "./authorization/types.ts";
export { compileAuthorization } from "./authorization/compile.ts";
export { RBAC_DENIED_BODY } from "./authorization/constants.ts";
export { normalizePolicyPath, normalizeRequestPath, rejectedPathReason, requestPath, type RequestPath } from "./authorization/path-match.ts";

export type { AuthnHeaderOp, AuthnRequest, AuthnResult, RequestAuthenticator } from "./request-authentication/types.ts";
export { compileRequestAuthentication, type RequestAuthenticationOptions } from "./request-authentication/compile.ts";
export { applyAuthnResultToAuthz } from "./request-authentication/to-authz.ts";
export { withoutQueryParams } from "./request-authentication/token-locations.ts";
export { JWT_MESSAGES } from "./request-authentication/jwt-rule.ts";

export { createJwksResolver, JwksError, type JwksFetch, type JwksResolver, type JwksResolverOptions } from "./jwks-resolver.ts";

export {
  composePeerAuthentication,
  resolvePeerAuthentication,
  STRAIT_DEFAULT_MTLS_MODE,
  type ComposedPeerAuthentication,
  type EffectiveMtlsMode,
  type PeerAuthenticationOptions,
} from "./peer-authentication.ts";

export { parseCidr, cidrContains, parseIp, type Cidr } from "./cidr.ts";
