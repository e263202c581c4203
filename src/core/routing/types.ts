/**
 * Public types of the routing core: what a data plane passes in
 * (`RequestFacts`) and what it gets back (`RequestPlan`). Runtime-free.
 */
import type { SourceRef, Service } from "../snapshot/snapshot-model.ts";
import type {
  ConnectionPoolSettings,
  ClientTLSSettings,
  LoadBalancerSettings,
  OutlierDetection,
} from "../config/kinds/destination-rule.ts";

/** What the routing core needs to know about one incoming HTTP request. */
export interface RequestFacts {
  method: string;
  scheme: "http" | "https";
  /** Host header / `:authority`, port included when the client sent one. */
  authority: string;
  /** Raw path plus query string, e.g. `/a/b?x=1`. */
  path: string;
  /** Port the request arrived on (gateway listener port, or service port in the mesh). */
  port: number;
  /** Header names lowercase. */
  headers: ReadonlyMap<string, string>;
  sourceIp?: string;
  /** Claims of a JWT validated by RequestAuthentication (for `@request.auth.claims.*` matches). */
  claims?: Record<string, unknown>;
}

/** One header mutation, applied in order. */
export type HeaderOp =
  | { op: "set"; name: string; value: string }
  | { op: "add"; name: string; value: string }
  | { op: "remove"; name: string };

/** Something headers can be written to (the Web `Headers` class fits). */
export interface HeaderSink {
  set(name: string, value: string): void;
  append(name: string, value: string): void;
  delete(name: string): void;
}

/** An upstream endpoint with the port to dial resolved. */
export interface UpstreamEndpoint {
  /** IP or DNS name. */
  address: string;
  port: number;
  labels: Readonly<Record<string, string>>;
  weight: number;
  locality?: string;
  network?: string;
  spiffeId?: string;
  placement?: { cluster: string; node: string };
  workload?: string;
}

/** DestinationRule traffic policy in effect for one cluster (port and subset merged). */
export interface EffectiveTrafficPolicy {
  loadBalancer?: LoadBalancerSettings;
  connectionPool?: ConnectionPoolSettings;
  outlierDetection?: OutlierDetection;
  tls?: ClientTLSSettings;
}

/** Envoy-style cluster: one service, port and subset. */
export interface ResolvedCluster {
  /** `outbound|<port>|<subset>|<fqdn>`. */
  name: string;
  host: string;
  port?: number;
  subset?: string;
  service?: Service;
  /** Endpoints after subset filtering, with target ports resolved. */
  endpoints: UpstreamEndpoint[];
  trafficPolicy: EffectiveTrafficPolicy;
  /** `<ns>/<name>` of the DestinationRules merged in. */
  destinationRules: string[];
}

export interface DestinationRef {
  host: string;
  port?: number;
  subset?: string;
}

/** Retry policy after Istio's defaults are applied. */
export interface RetryPolicy {
  /** Retries after the first try (`attempts`); 0 disables retries. */
  attempts: number;
  perTryTimeoutMs?: number;
  /** Envoy retry conditions, e.g. `5xx`, `gateway-error`, `connect-failure`. */
  retryOn: readonly string[];
  retriableStatusCodes: readonly number[];
  backoffBaseMs: number;
  backoffMaxMs: number;
  retryRemoteLocalities: boolean;
  /** Prefer a different endpoint on retry (Envoy previous_hosts). */
  retryIgnorePreviousHosts: boolean;
}

/**
 * The response headers a retry decision reads (`grpc-status`, `x-envoy-ratelimited`): a Map of
 * lowercase names or the runtime's own `Headers` (read in place, never copied per response).
 */
export interface ResponseHeaderReader {
  get(name: string): string | null | undefined;
  has(name: string): boolean;
}

/** What happened to one upstream try, for `retryDecision`. */
export type AttemptOutcome =
  | { kind: "response"; status: number; headers?: ResponseHeaderReader }
  | { kind: "connect-failure" }
  | { kind: "reset" }
  | { kind: "refused-stream" }
  | { kind: "per-try-timeout" };

export type RetryDecision = { retry: true; backoffMs: number; reason: string } | { retry: false; reason: string };

export interface CorsPolicyPlan {
  allowOrigins: readonly OriginMatcher[];
  allowMethods: readonly string[];
  allowHeaders: readonly string[];
  exposeHeaders: readonly string[];
  maxAgeSeconds?: number;
  allowCredentials?: boolean;
  unmatchedPreflights: "FORWARD" | "IGNORE";
}

export interface OriginMatcher {
  matches(origin: string): boolean;
}

export type CorsPreflightResult =
  /** Not a preflight request (or not CORS at all): route normally. */
  | { kind: "not-preflight" }
  /** Answer locally with this status and these headers. */
  | { kind: "respond"; status: number; headers: [string, string][] }
  /** A preflight from a non-allowed origin that must go upstream (FORWARD). */
  | { kind: "forward" };

export interface FaultPlan {
  delayMs?: number;
  abort?: { status: number } | { grpcStatus: string };
}

export interface MirrorPlan {
  destination: DestinationRef;
  cluster: ResolvedCluster;
  percentage: number;
  /** Authority the mirror request carries. */
  authority: string;
}

export interface CookieToSet {
  name: string;
  value: string;
  path?: string;
  maxAgeSeconds: number;
  attributes: readonly { name: string; value?: string }[];
}

export interface ForwardPlan {
  kind: "forward";
  route: { name?: string; source: SourceRef & { index: number } };
  destination: DestinationRef;
  cluster: ResolvedCluster;
  upstreamRequest: { path: string; authority: string; headerOps: readonly HeaderOp[] };
  responseHeaderOps: readonly HeaderOp[];
  timeoutMs?: number;
  retry: RetryPolicy;
  /** Present only when a fault fires for this request (dice already rolled). */
  fault?: FaultPlan;
  /** Mirrors that fire for this request (dice already rolled). */
  mirrors: MirrorPlan[];
  cors?: CorsPolicyPlan;
  /** Consistent-hash input for the cluster's load balancer, when it hashes. */
  hashKey?: string;
  /** Sticky cookie to set on the response (consistentHash httpCookie with ttl, cookie absent). */
  setCookie?: CookieToSet;
}

export type RequestPlan =
  | { kind: "no-route"; status: 404; flag: "NR"; reason: string }
  | { kind: "redirect"; status: number; location: string; route?: { name?: string; source: SourceRef & { index: number } }; cors?: CorsPolicyPlan; responseHeaderOps: readonly HeaderOp[] }
  | { kind: "direct-response"; status: number; body?: string | Uint8Array; route: { name?: string; source: SourceRef & { index: number } }; cors?: CorsPolicyPlan; responseHeaderOps: readonly HeaderOp[] }
  /** The route names a host or subset no cluster exists for: 503 NC (Istio issue #6335). */
  | { kind: "no-cluster"; status: 503; flag: "NC"; reason: string; route: { name?: string; source: SourceRef & { index: number } } }
  | ForwardPlan;

/** A config entry the compiler refused, with the reason. The rest of the table stays usable. */
export interface CompileIssue {
  /** `<kind>/<ns>/<name>` of the source resource. */
  resource: string;
  /** Field path, e.g. `spec.http[1].match[0].uri.regex`. */
  field: string;
  message: string;
}
