import type { ConnectionPoolSettings } from "./destination-rule.ts";
import type { ServerTLSSettings } from "./gateway.ts";
import type { Destination } from "./virtual-service.ts";

/**
 * `networking.istio.io` Sidecar spec: what a workload's proxy listens on and
 * which services it can reach. A Sidecar without `workloadSelector` applies to
 * the whole namespace (the root-namespace one is the mesh default).
 */
export interface SidecarSpec {
  /** Selects workloads in the Sidecar's namespace by `labels`. */
  workloadSelector?: SidecarWorkloadSelector;
  ingress?: IstioIngressListener[];
  egress?: IstioEgressListener[];
  outboundTrafficPolicy?: OutboundTrafficPolicy;
  /** Inbound connection pool applied to every ingress port without its own `connectionPool`. */
  inboundConnectionPool?: ConnectionPoolSettings;
}

/** Networking-style selector (`labels`, not `matchLabels`). */
export interface SidecarWorkloadSelector {
  labels?: Record<string, string>;
}

export type CaptureMode = "DEFAULT" | "IPTABLES" | "NONE";

/** Port of a sidecar listener; number 0 means a Unix domain socket (egress only, with a `unix://` bind). */
export interface SidecarPort {
  number?: number;
  protocol?: string;
  name?: string;
  /** Refused by validation: "targetPort has no impact on Sidecars". */
  targetPort?: number;
}

export interface IstioIngressListener {
  port: SidecarPort;
  bind?: string;
  captureMode?: CaptureMode;
  /** `127.0.0.1:PORT`, `0.0.0.0:PORT`, `[::1]:PORT`, `[::]:PORT` or `unix:///path`. */
  defaultEndpoint?: string;
  tls?: ServerTLSSettings;
  connectionPool?: ConnectionPoolSettings;
}

export interface IstioEgressListener {
  /** Omitted on the catch-all listener (which must be the last one). */
  port?: SidecarPort;
  bind?: string;
  captureMode?: CaptureMode;
  /**
   * `namespace/dnsName`: namespace `*` (any), `.` (the Sidecar's own) or `~`
   * (none); dnsName an FQDN, a `*.` wildcard or `*`.
   */
  hosts: string[];
}

export interface OutboundTrafficPolicy {
  /** Unset means the mesh default when the policy is absent; REGISTRY_ONLY (the proto default) when it is present. */
  mode?: "REGISTRY_ONLY" | "ALLOW_ANY";
  /** Only with ALLOW_ANY: where unknown traffic goes. */
  egressProxy?: Destination;
}
