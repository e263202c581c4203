/**
 * Envoy response flags the gateway reports, in the access log, in the `response_flags`
 * metric label and in the `x-strait-response-flags` response header.
 */
export type ResponseFlag =
  /** No route (404). */
  | "NR"
  /** No healthy upstream (503). */
  | "UH"
  /** Upstream connection failure (503). */
  | "UF"
  /** Upstream request timeout (504). */
  | "UT"
  /** Upstream retry limit exceeded. */
  | "URX"
  /** Request delayed by fault injection. */
  | "DI"
  /** Request aborted by fault injection. */
  | "FI"
  /** Rate limited (429). */
  | "RL"
  /** Unauthorized by an external/authorization service: AuthorizationPolicy denied, CUSTOM refused (403). */
  | "UAEX"
  /** Upstream overflow (circuit breaking: connectionPool limits) (503). */
  | "UO"
  /** No cluster for the route's destination (503). */
  | "NC"
  /** Downstream connection termination (the client went away). */
  | "DC"
  /** Upstream connection termination (its response body ended early, after the response started). */
  | "UC";

/** Response header carrying the flags (comma separated, Envoy order of occurrence). */
export const RESPONSE_FLAGS_HEADER = "x-strait-response-flags";

/** Flags as Envoy prints them: comma separated, `-` when none. */
export function formatFlags(flags: readonly ResponseFlag[]): string {
  return flags.length === 0 ? "-" : [...new Set(flags)].join(",");
}
