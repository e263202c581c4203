/**
 * Responses the gateway makes itself (Envoy "local replies"): plain-text bodies as Envoy sends
 * them, the response flags in `x-strait-response-flags`, never a stack trace.
 */
import { RESPONSE_FLAGS_HEADER, formatFlags, type ResponseFlag } from "./response-flags.ts";

/** Why the gateway answered itself (access log `response_code_details`). */
export interface LocalReply {
  status: number;
  body: string;
  flags: ResponseFlag[];
  details: string;
  headers?: [string, string][];
}

export function localReplyResponse(r: LocalReply): Response {
  const headers = new Headers(r.headers);
  if (!headers.has("content-type")) headers.set("content-type", "text/plain");
  if (r.flags.length > 0) headers.set(RESPONSE_FLAGS_HEADER, formatFlags(r.flags));
  const nullBody = r.status === 204 || r.status === 304 || (r.status >= 100 && r.status < 200);
  return new Response(nullBody ? null : r.body, { status: r.status, headers });
}

/** Envoy's local-reply bodies, so clients and tests see what an Istio gateway sends. */
export const REPLY = {
  noRoute: (): LocalReply => ({ status: 404, body: "", flags: ["NR"], details: "route_not_found" }),
  noCluster: (reason: string): LocalReply => ({ status: 503, body: "no healthy upstream", flags: ["NC"], details: `cluster_not_found: ${reason}` }),
  noHealthyUpstream: (): LocalReply => ({ status: 503, body: "no healthy upstream", flags: ["UH"], details: "no_healthy_upstream" }),
  overflow: (): LocalReply => ({ status: 503, body: "upstream connect error or disconnect/reset before headers. reset reason: overflow", flags: ["UO"], details: "upstream_reset_before_response_started{overflow}" }),
  connectFailure: (flags: ResponseFlag[], reason: string): LocalReply => ({
    status: 503,
    body: `upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: ${reason}`,
    flags,
    details: "upstream_reset_before_response_started{connection_failure}",
  }),
  timeout: (flags: ResponseFlag[]): LocalReply => ({ status: 504, body: "upstream request timeout", flags, details: "upstream_response_timeout" }),
  rbacDenied: (policy?: string): LocalReply => ({ status: 403, body: "RBAC: access denied", flags: ["UAEX"], details: `rbac_access_denied_matched_policy[${policy ?? "none"}]` }),
  jwtInvalid: (message: string): LocalReply => ({ status: 401, body: message, flags: [], details: "jwt_authn_access_denied", headers: [["www-authenticate", 'Bearer realm="strait", error="invalid_token"']] }),
  rateLimited: (retryAfterSeconds: number): LocalReply => ({
    status: 429,
    body: "local_rate_limited",
    flags: ["RL"],
    details: "request_rate_limited",
    headers: [["retry-after", String(retryAfterSeconds)], ["x-ratelimit-reset", String(retryAfterSeconds)]],
  }),
  faultAbort: (status: number): LocalReply => ({ status, body: "fault filter abort", flags: ["FI"], details: "fault_filter_abort" }),
  badRequest: (message: string, status = 400): LocalReply => ({ status, body: message, flags: [], details: "invalid_request" }),
  noSnapshot: (detail: string): LocalReply => ({ status: 503, body: `no verified gateway snapshot: ${detail}`, flags: ["NR"], details: "no_snapshot" }),
};
