/**
 * Inputs and outputs of AuthorizationPolicy evaluation. The data planes (edge
 * gateway, node proxy) fill an `AuthzContext` per request or connection and
 * act on the `AuthzDecision` (403 `RBAC: access denied` for HTTP, a closed
 * connection for TCP).
 */

/** The peer as the data plane authenticated it. */
export interface AuthzSource {
  /**
   * Peer identity from mTLS (or a verified JWT-SVID): the SPIFFE ID, with or
   * without the `spiffe://` scheme (`cluster.local/ns/default/sa/sleep`).
   * `namespaces` and `source.namespace` are derived from it, as in Istio, so
   * they never match a peer without one.
   */
  principal?: string;
  /** Informational only (logs); matching derives the namespace from `principal`. */
  namespace?: string;
  /** Address of the direct peer (`ipBlocks`, `source.ip`). */
  ip?: string;
  /** Original client address (e.g. from trusted X-Forwarded-For); falls back to `ip` (`remoteIpBlocks`, `remote.ip`). */
  remoteIp?: string;
}

/** Result of RequestAuthentication, as AuthorizationPolicy sees it (`request.auth.*`, `requestPrincipals`). */
export interface AuthzRequestAuth {
  /** `<iss>/<sub>`. */
  principal?: string;
  audiences?: readonly string[];
  /** `azp` claim. */
  presenter?: string;
  /** JWT claims (space-delimited claims such as `scope` already split into lists). */
  claims?: Readonly<Record<string, unknown>>;
}

export interface AuthzRequest {
  /** `:authority` / Host, possibly with `:port`. */
  host: string;
  method: string;
  /** Request path; a query string, if present, is ignored for matching. */
  path: string;
  /** Lower-case header names. */
  headers: ReadonlyMap<string, string>;
  /** Absent for anonymous requests. */
  auth?: AuthzRequestAuth;
}

/**
 * What a policy is evaluated against. `request` is absent for TCP traffic:
 * HTTP-only fields then narrow ALLOW rules (never match) and widen DENY/AUDIT
 * rules (ignored), exactly as Istio does.
 */
export interface AuthzContext {
  source: AuthzSource;
  request?: AuthzRequest;
  destination: { ip?: string; port: number };
  connection?: { sni?: string };
}

export interface AuthzDecision {
  allow: boolean;
  /** Short machine-friendly reason, e.g. `denied by policy`, `no matching ALLOW policy`, `allowed by policy`, `no ALLOW policies`. */
  reason: string;
  /** `<ns>/<name>` of the deciding policy (the matching DENY or ALLOW policy; the refused CUSTOM policy). */
  policy?: string;
  /** Index of the matching rule in that policy. */
  rule?: number;
  /** True when an AUDIT policy matched; `auditPolicy` names it. */
  audit: boolean;
  auditPolicy?: string;
}

/** A policy (or part of one) the engine refused at compile time; the affected target denies by default. */
export interface PolicyProblem {
  /** `<ns>/<name>`. */
  policy: string;
  /** Field path inside the spec, when known. */
  field?: string;
  message: string;
}

export interface AuthorizationEngine {
  evaluate(ctx: AuthzContext): AuthzDecision;
  /**
   * Policies (or parts) refused at compile time: CUSTOM (its rules deny), unknown `when` keys,
   * malformed values. Each is handled fail-closed (ALLOW parts never match, DENY parts match more).
   */
  readonly problems: readonly PolicyProblem[];
  /** Number of policies compiled per action, for status/metrics. */
  readonly counts: Readonly<{ allow: number; deny: number; audit: number; custom: number }>;
}
