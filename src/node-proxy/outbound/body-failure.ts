/**
 * How Envoy flags an upstream response whose body fails after its head was passed on (details
 * `upstream_reset_after_response_started{…}`): `UC` when the upstream's connection ended before the
 * body did (`connection_termination`), `UPE` when the body was malformed (`protocol_error`, e.g. a
 * bad chunk size).
 *
 * Node's HTTP client tells the two apart only on the request: a malformed body is an `HPE_*` parser
 * error on the ClientRequest, emitted before the response's own error, which is `ECONNRESET`
 * ("aborted") in both cases.
 */
export type BodyFailureFlag = "UC" | "UPE";

/** True for Node's HTTP parser errors (llhttp's `HPE_*` codes): the peer sent malformed HTTP. */
export function isHttpParseError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("HPE_");
}

/** The flag for a body that failed, given the error its request reported (if any) before. */
export function bodyFailureFlag(requestError: unknown): BodyFailureFlag {
  return isHttpParseError(requestError) ? "UPE" : "UC";
}
