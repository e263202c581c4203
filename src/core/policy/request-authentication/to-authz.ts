import type { AuthzRequestAuth } from "../authorization/types.ts";
import type { AuthnResult } from "./types.ts";

/** The `request.auth` part of an AuthzContext for an authentication result (undefined when anonymous or invalid). */
export function applyAuthnResultToAuthz(result: AuthnResult): AuthzRequestAuth | undefined {
  if (result.kind !== "authenticated") return undefined;
  return {
    principal: result.principal,
    audiences: result.audiences,
    ...(result.presenter === undefined ? {} : { presenter: result.presenter }),
    claims: result.claims,
  };
}
