import type { Clock } from "../../clock.ts";
import type { RequestAuthenticationSpec } from "../../config/kinds/request-authentication.ts";
import type { CompiledPolicy } from "../../snapshot/snapshot-model.ts";
import type { JwksResolver } from "../jwks-resolver.ts";
import type { RequestAuthenticator } from "./types.ts";

export interface RequestAuthenticationOptions {
  jwks: JwksResolver;
  clock: Clock;
  /** Target `<ns>/<name>`; when given only policies whose `appliesTo` names it are used. */
  forWorkload?: string;
  /** Allowed clock skew for `exp`/`nbf`, seconds (Envoy's default: 60). */
  clockSkewSeconds?: number;
}

export function compileRequestAuthentication(
  policies: readonly CompiledPolicy<RequestAuthenticationSpec>[],
  options: RequestAuthenticationOptions,
): RequestAuthenticator {
  void policies;
  void options;
  throw new Error("compileRequestAuthentication: not implemented yet");
}
