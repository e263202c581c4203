import type { AuthorizationPolicySpec } from "../../config/kinds/authorization-policy.ts";
import type { CompiledPolicy } from "../../snapshot/snapshot-model.ts";
import type { AuthorizationEngine } from "./types.ts";

/**
 * Compiles the AuthorizationPolicies of one target (workload `<ns>/<name>` or
 * gateway `<ns>/<name>`; when `forWorkload` is given, only policies whose
 * `appliesTo` names it are used).
 */
export function compileAuthorization(policies: readonly CompiledPolicy<AuthorizationPolicySpec>[], forWorkload?: string): AuthorizationEngine {
  void policies;
  void forWorkload;
  throw new Error("compileAuthorization: not implemented yet");
}
