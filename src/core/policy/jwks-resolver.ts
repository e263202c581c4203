import type { JWSHeaderParameters } from "jose";
import type { Clock } from "../clock.ts";
import { StraitError, type ErrorCategory } from "../errors.ts";

/** A JWKS could not be fetched or holds no key for a token; the token is rejected. */
export class JwksError extends StraitError {
  readonly code: string = "ERR_JWKS";
  readonly category: ErrorCategory = "unauthenticated";
}

/** Remote JWKS source with caching; shared by every compiled RequestAuthentication of a data plane. */
export interface JwksResolver {
  /** Key for a token's protected header from the JWKS at `uri`; rejects with `JwksError` (never resolves to "accept"). */
  resolveKey(uri: string, header: JWSHeaderParameters, options?: { timeoutMs?: number }): Promise<CryptoKey>;
}

export interface JwksResolverOptions {
  clock: Clock;
  /** Defaults to the global `fetch`. */
  fetch?: (input: string, init?: RequestInit) => Promise<Response>;
  /** Re-fetch a cached set after this long (Istio's default refresh: 20 minutes). */
  refreshIntervalMs?: number;
  /** At most one re-fetch per URI per this interval when a token names an unknown `kid` (default 60 s). */
  minRefetchIntervalMs?: number;
  /** Fetch timeout when a rule sets none (Istio's default: 5 s). */
  timeoutMs?: number;
}

export function createJwksResolver(options: JwksResolverOptions): JwksResolver {
  void options;
  throw new Error("createJwksResolver: not implemented yet");
}
