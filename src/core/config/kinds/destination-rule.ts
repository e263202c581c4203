import type { PortSelector, WorkloadSelector } from "./common.ts";

/** `networking.istio.io` DestinationRule spec: policies applied after routing, and subsets. */
export interface DestinationRuleSpec {
  /** Service host (short names resolve relative to the DR namespace); may be a `*.` wildcard. */
  host: string;
  trafficPolicy?: TrafficPolicy;
  subsets?: Subset[];
  exportTo?: string[];
  workloadSelector?: WorkloadSelector;
}

export interface Subset {
  name: string;
  labels?: Record<string, string>;
  trafficPolicy?: TrafficPolicy;
}

export interface TrafficPolicy {
  loadBalancer?: LoadBalancerSettings;
  connectionPool?: ConnectionPoolSettings;
  outlierDetection?: OutlierDetection;
  tls?: ClientTLSSettings;
  portLevelSettings?: PortTrafficPolicy[];
  /** `protocol`: "CONNECT" (default) or "POST". */
  tunnel?: { protocol?: string; targetHost: string; targetPort: number };
  proxyProtocol?: { version?: "V1" | "V2" };
  retryBudget?: { percent?: number; minRetryConcurrency?: number; budgetInterval?: string };
}

export interface PortTrafficPolicy {
  port?: PortSelector;
  loadBalancer?: LoadBalancerSettings;
  connectionPool?: ConnectionPoolSettings;
  outlierDetection?: OutlierDetection;
  tls?: ClientTLSSettings;
}

export type SimpleLB = "UNSPECIFIED" | "LEAST_CONN" | "RANDOM" | "PASSTHROUGH" | "ROUND_ROBIN" | "LEAST_REQUEST";

export interface LoadBalancerSettings {
  simple?: SimpleLB;
  consistentHash?: ConsistentHashLB;
  /** Client-side weighted round robin on ORCA load reports (istio/api#3750). */
  backendUtilization?: BackendUtilizationLB;
  localityLbSetting?: LocalityLoadBalancerSetting;
  /** Envoy zone-aware routing (istio/api#3733); mutually exclusive with `localityLbSetting`. */
  zoneAwareLbSetting?: ZoneAwareLoadBalancerSetting;
  /** Deprecated: use `warmup.duration`. */
  warmupDurationSecs?: string;
  warmup?: { duration: string; minimumPercent?: number; aggression?: number };
}

export interface BackendUtilizationLB {
  blackoutPeriod?: string;
  weightExpirationPeriod?: string;
  weightUpdatePeriod?: string;
  errorUtilizationPenalty?: number;
  metricNamesForComputingUtilization?: string[];
}

export interface ConsistentHashLB {
  httpHeaderName?: string;
  httpCookie?: { name: string; path?: string; ttl?: string; attributes?: { name: string; value?: string }[] };
  useSourceIp?: boolean;
  httpQueryParameterName?: string;
  ringHash?: { minimumRingSize?: number };
  maglev?: { tableSize?: number };
  /** Deprecated: use `ringHash.minimumRingSize`. */
  minimumRingSize?: number;
}

export interface LocalityLoadBalancerSetting {
  distribute?: { from?: string; to?: Record<string, number> }[];
  failover?: { from?: string; to?: string }[];
  failoverPriority?: string[];
  enabled?: boolean;
}

export interface ZoneAwareLoadBalancerSetting {
  enabled?: boolean;
  failover?: { from?: string; to?: string }[];
  /** Labels to prioritise by; region, zone and subzone are implied and may not be listed. */
  failoverPriority?: string[];
}

export interface ConnectionPoolSettings {
  tcp?: {
    maxConnections?: number;
    connectTimeout?: string;
    tcpKeepalive?: { probes?: number; time?: string; interval?: string };
    maxConnectionDuration?: string;
    idleTimeout?: string;
  };
  http?: {
    http1MaxPendingRequests?: number;
    http2MaxRequests?: number;
    maxRequestsPerConnection?: number;
    maxRetries?: number;
    idleTimeout?: string;
    h2UpgradePolicy?: "DEFAULT" | "DO_NOT_UPGRADE" | "UPGRADE";
    useClientProtocol?: boolean;
    maxConcurrentStreams?: number;
    /** HTTP/2 PING keepalive (istio/api#3706). */
    http2KeepAlive?: { interval?: string; timeout?: string };
  };
}

export interface OutlierDetection {
  /** Deprecated and ignored: use `consecutive5xxErrors`. */
  consecutiveErrors?: number;
  splitExternalLocalOriginErrors?: boolean;
  consecutiveLocalOriginFailures?: number;
  consecutiveGatewayErrors?: number;
  consecutive5xxErrors?: number;
  interval?: string;
  baseEjectionTime?: string;
  maxEjectionPercent?: number;
  minHealthPercent?: number;
  outlierDetectionHttpErrorCodes?: number[];
}

export interface ClientTLSSettings {
  mode?: "DISABLE" | "SIMPLE" | "MUTUAL" | "ISTIO_MUTUAL";
  clientCertificate?: string;
  privateKey?: string;
  caCertificates?: string;
  credentialName?: string;
  subjectAltNames?: string[];
  sni?: string;
  insecureSkipVerify?: boolean;
  caCrl?: string;
}
