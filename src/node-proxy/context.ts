/**
 * The seams between the proxy's base (identity, config, transport, admin, telemetry)
 * and its data plane (outbound, inbound, L7, resilience).
 *
 * `main.ts` builds a {@link DataPlaneContext} and hands it to `startDataPlane(ctx)`
 * (src/node-proxy/data-plane.ts). Everything here is an interface: the data plane
 * depends on capabilities, never on the issuer, the control API or the disk.
 *
 * Hot-path rule: every method the data plane calls per connection or per request
 * (`credentialsFor`, `bundle`, `isRevoked`, `config.current`, metrics, log) is
 * synchronous and reads in-memory state; the background loops (renewal, long-poll,
 * persistence) swap that state whole.
 */
import type { Duplex } from "node:stream";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import type { Context as OtelContext, Span, Tracer } from "@opentelemetry/api";
import type { Clock } from "../core/clock.ts";
import type { NodeSnapshot, NodeWorkload, Service } from "../core/snapshot/snapshot-model.ts";

// ---------------------------------------------------------------- settings

/** A listen address; `port: 0` lets the OS pick (tests). */
export interface ListenAddress {
  host: string;
  port: number;
}

/** How the node proves who it is to the control plane. */
export type AttestationSettings =
  | { kind: "join-token"; token: string }
  /** Projected service-account token read from `tokenPath` at each attestation (kubelet rotates it). */
  | { kind: "k8s-psat"; tokenPath: string; cluster: string };

export interface ProxySettings {
  /** Base URL of the control API, e.g. `https://control.example.com`. */
  controlUrl: URL;
  cluster: string;
  node: string;
  attestation: AttestationSettings;
  listen: {
    /** Explicit outbound proxy listener for workloads (15001). */
    outbound: ListenAddress;
    /** Plaintext inbound listener for PERMISSIVE peers (15006). */
    inboundPlaintext: ListenAddress;
    /** HBONE mTLS listener (15008). */
    hbone: ListenAddress;
    /** Edge-ingress listener for the edge gateway's JWT-SVID calls (15443). */
    edgeIngress: ListenAddress;
    /** Admin: /healthz, /ready, /config_dump, /certs (15000). */
    admin: ListenAddress;
    /** Prometheus: /stats/prometheus (15020). */
    metrics: ListenAddress;
  };
  /** Where last-known-good snapshot, SVIDs and bundle live (private keys 0600). */
  stateDir: string;
  /** `?wait=` of the snapshot long-poll, seconds. */
  longPollSeconds: number;
  /** Port that peer node proxies listen for HBONE on (15008 in a cluster; tests override). */
  hbonePeerPort: number;
  /** Access log destination: `-` = stdout, `off`, or a file path (JSON lines). */
  accessLog: string;
}

// ---------------------------------------------------------------- identity

/** One identity's current X.509-SVID and its private key (never leaves the process except to the 0600 state file). */
export interface SvidCredentials {
  spiffeId: string;
  /** Leaf first, then intermediates (PEM). */
  certChainPem: string;
  /** PKCS#8 PEM. */
  keyPem: string;
  serial: string;
  /** Epoch ms. */
  notBefore: number;
  /** Epoch ms. */
  notAfter: number;
}

/** The trust bundle of this node's trust domain, as verifiers need it. */
export interface TrustBundleView {
  trustDomain: string;
  /** The x509-svid authorities of the trust domain, PEM (for TLS `ca:` and path validation). */
  x509AuthoritiesPem: string;
  /** The jwt-svid keys of the trust domain by `kid` (snapshot signatures, edge JWT-SVIDs). */
  jwtAuthorities: ReadonlyMap<string, JsonWebKey>;
  sequence: number;
}

/** Public view of a held SVID for /certs and /config_dump (no key material). */
export interface SvidStatus {
  spiffeId: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  /** When the manager plans to renew it. */
  renewAt: string;
  /** `valid`, `renewing` (failed at least once, still valid), `expired` (fails closed). */
  state: "valid" | "renewing" | "expired";
  lastError?: string;
}

/**
 * Workload and node X.509-SVIDs, renewed at about half life with jitter. Read-only for the data plane.
 * @example
 * const creds = ctx.identity.credentialsFor("spiffe://strait.local/ns/default/sa/reviews");
 * if (creds === undefined) refuse(); // not held, or expired: fail closed for that identity
 */
export interface SvidSource {
  /** The current credentials for `spiffeId`, or undefined when not held or expired (fail closed). */
  credentialsFor(spiffeId: string): SvidCredentials | undefined;
  /** This node's own SPIFFE ID (`spiffe://<td>/node/<cluster>/<node>`). */
  nodeSpiffeId(): string;
  /** The current trust bundle (refreshed with each renewal and snapshot). */
  bundle(): TrustBundleView;
  /** True when the id is on the current revocation list. */
  isRevoked(spiffeId: string): boolean;
  /** Called after any SVID, the bundle or the revocation list changed; new connections should use the new state. Returns an unsubscribe. */
  onChange(listener: (change: IdentityChange) => void): () => void;
  /** Every held identity, for /certs. */
  status(): SvidStatus[];
}

export type IdentityChange =
  | { kind: "svid"; spiffeId: string }
  | { kind: "expired"; spiffeId: string }
  | { kind: "bundle" }
  | { kind: "revocations" };

// ---------------------------------------------------------------- config

/** One verified, whole node snapshot plus indexes built once, off the hot path. */
export interface ConfigView {
  version: number;
  revision: number;
  hash: string;
  snapshot: NodeSnapshot;
  /** Epoch ms when it was swapped in. */
  appliedAt: number;
  /** Where it came from: the control plane, or the state dir after a restart during an outage. */
  origin: "control" | "disk";
  /** This node's workloads by address (workload IP), and by `<namespace>/<name>`. */
  workloadsByAddress: ReadonlyMap<string, NodeWorkload>;
  workloadsByName: ReadonlyMap<string, NodeWorkload>;
  /** Every service (inbound and outbound) by FQDN host. */
  servicesByHost: ReadonlyMap<string, Service>;
  revoked: ReadonlySet<string>;
  /**
   * A value computed once per view (memoized by `key`): compiled route tables, policy engines...
   * Call it from a {@link ConfigPreparer} so the cost is paid before the swap.
   */
  derive<T>(key: string, build: (view: ConfigView) => T): T;
}

/**
 * Runs on a candidate view BEFORE it is swapped in; throwing refuses the snapshot
 * (the last good one stays live, the error is reported on /config_dump).
 */
export type ConfigPreparer = (view: ConfigView) => void | Promise<void>;

export interface ConfigState {
  /** The live view, or undefined before the first snapshot. Read once per request and keep it across awaits. */
  current(): ConfigView | undefined;
  /** Called after each whole swap. Returns an unsubscribe. */
  onSwap(listener: (next: ConfigView, previous: ConfigView | undefined) => void): () => void;
  /** Adds a preparer run on every later candidate (and on the current view, if any, right away). */
  addPreparer(prepare: ConfigPreparer): Promise<void>;
}

// ---------------------------------------------------------------- transport (HBONE)

export interface PeerIdentity {
  spiffeId: string;
  trustDomain: string;
}

export interface HboneConnectOptions {
  /** Identity whose SVID the client presents (the source workload). */
  source: string;
  /** The peer node proxy's HBONE listener. */
  target: { host: string; port: number };
  /** HTTP/2 CONNECT `:authority`: the destination workload's `address:port`. */
  authority: string;
  /** SPIFFE ID the server must present (the destination workload's). */
  expectedPeer: string;
  /** Extra request headers (e.g. `traceparent`, `baggage`). */
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** Client side of HBONE: CONNECT streams multiplexed over pooled mutual TLS 1.3 h2 connections. */
export interface HboneConnector {
  /** Resolves once the peer answered the CONNECT with 200; rejects with a `HboneError` (stable `code`) otherwise. */
  connect(options: HboneConnectOptions): Promise<Duplex>;
  /** Pool statistics for /config_dump and tests. */
  stats(): { connections: number; streams: number; connectionsOpened: number };
  close(): Promise<void>;
}

/** One inbound HBONE CONNECT stream, authenticated, not yet answered. */
export interface HboneInboundRequest {
  /** `:authority` of the CONNECT: destination workload `address:port`. */
  authority: string;
  peer: PeerIdentity;
  /** SPIFFE ID the server presented on this connection. */
  localIdentity: string;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  remoteAddress: string | undefined;
  /** Answers 200 and returns the tunnelled byte stream. */
  accept(headers?: Record<string, string>): Duplex;
  /** Answers with an error status (e.g. 403, 503) and ends the stream. */
  reject(status: number, message?: string): void;
}

export interface HboneServerOptions {
  /**
   * Credentials to present for a TLS server name (SNI); default: the held SVID whose
   * `hboneServerName` equals the SNI. Return undefined to refuse the handshake.
   */
  serverIdentity?(servername: string | undefined): SvidCredentials | undefined;
  onStream(request: HboneInboundRequest): void;
}

export interface HboneServer {
  listen(address: ListenAddress): Promise<AddressInfo>;
  close(): Promise<void>;
}

export interface HboneTransport {
  connector: HboneConnector;
  createServer(options: HboneServerOptions): HboneServer;
}

// ---------------------------------------------------------------- telemetry

export type ConnectionSecurityPolicy = "mutual_tls" | "none" | "unknown";

/** Istio standard metric labels (a subset is enough for TCP). */
export interface RequestMetricLabels {
  reporter: "source" | "destination";
  source_workload: string;
  source_principal: string;
  destination_service: string;
  destination_principal: string;
  response_code: string;
  response_flags: string;
  connection_security_policy: ConnectionSecurityPolicy;
}

export type TcpMetricLabels = Omit<RequestMetricLabels, "response_code"> & { response_code?: string };

/** Records into Istio's metric names; exposed on 15020 `/stats/prometheus`. */
export interface ProxyMetrics {
  readonly registry: Registry;
  request(labels: RequestMetricLabels, sample: { durationMs: number; requestBytes: number; responseBytes: number }): void;
  tcpOpened(labels: TcpMetricLabels): void;
  tcpClosed(labels: TcpMetricLabels): void;
  tcpBytes(labels: TcpMetricLabels, sent: number, received: number): void;
  /** Proxy-internal counters (authz denials, pool overflow, ejections...): `strait_proxy_<name>_total`. */
  count(name: string, labels?: Record<string, string>, by?: number): void;
}

/** One JSON access-log line (Envoy/Istio field names). */
export interface AccessLogEntry {
  start_time: string;
  method?: string;
  path?: string;
  protocol: string;
  response_code: number;
  /** Envoy response flags, e.g. `-`, `UO`, `NR`, `UF`, `URX`, `UH`, `RBAC`... */
  response_flags: string;
  bytes_received: number;
  bytes_sent: number;
  duration: number;
  authority?: string;
  upstream_host?: string;
  upstream_cluster?: string;
  downstream_remote_address?: string;
  source_principal?: string;
  destination_principal?: string;
  connection_security_policy?: ConnectionSecurityPolicy;
  request_id?: string;
  traceparent?: string;
  user_agent?: string;
  route_name?: string;
  [extra: string]: unknown;
}

export interface AccessLog {
  /** `false` when nothing is written: callers then skip building entries (absent means enabled). */
  readonly enabled?: boolean;
  log(entry: AccessLogEntry): void;
}

/** W3C trace context over @opentelemetry/api. */
export interface ProxyTracing {
  readonly tracer: Tracer;
  /** Extracts `traceparent`/`tracestate` from incoming headers into a context. */
  extract(headers: Readonly<Record<string, string | string[] | undefined>>): OtelContext;
  /** Starts a span as a child of `parent`; returns it with the context to propagate. */
  startSpan(name: string, parent: OtelContext, attributes?: Record<string, string | number | boolean>): { span: Span; context: OtelContext };
  /** Writes `traceparent` (and `tracestate`) of `context` into `headers` (mutated and returned). */
  inject(context: OtelContext, headers: Record<string, string>): Record<string, string>;
}

/** Diagnostics (not the access log). Secrets are never passed here. */
export interface ProxyLogger {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

// ---------------------------------------------------------------- the context

export interface DataPlaneContext {
  settings: ProxySettings;
  clock: Clock;
  identity: SvidSource;
  config: ConfigState;
  hbone: HboneTransport;
  metrics: ProxyMetrics;
  log: AccessLog;
  tracing: ProxyTracing;
  logger: ProxyLogger;
  /** Set by the data plane: the addresses it bound (for /config_dump and tests). */
  reportListening(name: string, address: AddressInfo): void;
}

/** What `src/node-proxy/data-plane.ts` exports. */
export type StartDataPlane = (ctx: DataPlaneContext) => Promise<{ close(): Promise<void> }>;
