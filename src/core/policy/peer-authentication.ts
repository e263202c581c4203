import type { PeerAuthenticationSpec } from "../config/kinds/peer-authentication.ts";
import type { CompiledPolicy } from "../snapshot/snapshot-model.ts";

export type EffectiveMtlsMode = "STRICT" | "PERMISSIVE" | "DISABLE";

/** Strait's default when no PeerAuthentication decides (Istio's is PERMISSIVE; Strait is strict by default). */
export const STRAIT_DEFAULT_MTLS_MODE: EffectiveMtlsMode = "STRICT";

export interface PeerAuthenticationOptions {
  /** Mode when no policy sets one; default `STRICT`. */
  defaultMode?: EffectiveMtlsMode;
}

/** Effective inbound mTLS mode of workload `<ns>/<name>` on workload `port`. */
export function resolvePeerAuthentication(
  policies: readonly CompiledPolicy<PeerAuthenticationSpec>[],
  workload: string,
  port: number,
  options?: PeerAuthenticationOptions,
): EffectiveMtlsMode {
  void policies;
  void workload;
  void port;
  return options?.defaultMode ?? STRAIT_DEFAULT_MTLS_MODE;
}
