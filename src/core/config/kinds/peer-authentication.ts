import type { WorkloadSelector } from "./common.ts";

export type MtlsMode = "UNSET" | "DISABLE" | "PERMISSIVE" | "STRICT";

/** `security.istio.io` PeerAuthentication spec: inbound mTLS mode. */
export interface PeerAuthenticationSpec {
  selector?: WorkloadSelector;
  mtls?: { mode?: MtlsMode };
  /** Keyed by workload (container) port; needs `selector`. */
  portLevelMtls?: Record<string, { mode?: MtlsMode }>;
}
