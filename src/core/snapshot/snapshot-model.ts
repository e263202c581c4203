/**
 * The compiled configuration a data plane consumes. A snapshot is plain JSON:
 * the control plane hashes its canonical form, signs it and writes it to KV;
 * the gateway and node proxies read it whole and swap it in.
 *
 * Istio spec fragments (routes, traffic policies, policy rules) are carried
 * as validated, unchanged; the compiler only resolves names (FQDN hosts,
 * gateway bindings, workload placement and identity) and decides which
 * pieces a target needs.
 */
import type { Kind } from "../config/resource.ts";
import type { GatewaySpec } from "../config/kinds/gateway.ts";
import type { HTTPRoute, TCPRoute, TLSRoute } from "../config/kinds/virtual-service.ts";
import type { DestinationRuleSpec } from "../config/kinds/destination-rule.ts";
import type { ServicePort } from "../config/kinds/service-entry.ts";
import type { AuthorizationPolicySpec } from "../config/kinds/authorization-policy.ts";
import type { PeerAuthenticationSpec } from "../config/kinds/peer-authentication.ts";
import type { RequestAuthenticationSpec } from "../config/kinds/request-authentication.ts";
import type { RateLimitRule } from "../config/kinds/rate-limit-policy.ts";

/** Where a compiled item came from. */
export interface SourceRef {
  kind: Kind;
  namespace: string;
  name: string;
}

/** A node proxy's place in the mesh. */
export interface NodeRef {
  cluster: string;
  node: string;
  /** `spiffe://<td>/node/<cluster>/<node>`. */
  spiffeId: string;
}

/** A workload (WorkloadEntry or inline ServiceEntry endpoint) as a proxy needs it. */
export interface Endpoint {
  address?: string;
  /** Service port number -> workload port for this endpoint. */
  ports: Record<string, number>;
  labels: Record<string, string>;
  network?: string;
  locality?: string;
  weight?: number;
  /** Identity the endpoint presents in mTLS, when known. */
  spiffeId?: string;
  /** Node that runs it (from `strait.io/cluster` + `strait.io/node` labels), if placed. */
  placement?: { cluster: string; node: string };
  /** `<namespace>/<name>` of the WorkloadEntry, when it came from one. */
  workload?: string;
}

/** One host of the service registry (from a ServiceEntry). */
export interface Service {
  /** Fully qualified host, e.g. `reviews.default.svc.cluster.local` or `api.example.com`. */
  host: string;
  namespace: string;
  source: SourceRef;
  ports: ServicePort[];
  addresses: string[];
  location: "MESH_EXTERNAL" | "MESH_INTERNAL";
  resolution: "NONE" | "STATIC" | "DNS" | "DNS_ROUND_ROBIN" | "DYNAMIC_DNS";
  /** Namespaces that may see this service (`["*"]` = all). */
  exportTo: string[];
  subjectAltNames: string[];
  endpoints: Endpoint[];
}

/** A workload placed on a node, with the identity the node may obtain for it. */
export interface NodeWorkload {
  namespace: string;
  name: string;
  address?: string;
  ports: Record<string, number>;
  labels: Record<string, string>;
  serviceAccount: string;
  spiffeId: string;
  /** FQDNs of the services this workload serves. */
  serves: string[];
  /** `<ns>/<name>` of the Sidecar that scopes this workload's egress, when one applies. */
  sidecar?: string;
  /** The Sidecar's `outboundTrafficPolicy.mode`: REGISTRY_ONLY refuses hosts outside the outbound view. */
  outboundTrafficPolicy?: "REGISTRY_ONLY" | "ALLOW_ANY";
}

/** An HTTP route with its origin, its destinations' hosts already made fully qualified. */
export interface CompiledHttpRoute {
  source: SourceRef & { index: number };
  route: HTTPRoute;
  /** Every match entry is a catch-all (pilot `isCatchAllRoute`); on the gateway such routes sort last. */
  catchAll: boolean;
}

/** Routing for one host of one VirtualService bound to the mesh. */
export interface MeshRouteTable {
  host: string;
  source: SourceRef;
  exportTo: string[];
  http: CompiledHttpRoute[];
  tls: TLSRoute[];
  tcp: TCPRoute[];
}

/** Routing for one host on the gateway: every bound VS merged, catch-alls last. */
export interface GatewayHostRoutes {
  /** Virtual host: the more specific of the VS host (FQDN-resolved when short) and the server host it overlaps. */
  host: string;
  /** `<ns>/<name>` of the Gateways the host is bound through. */
  gateways: string[];
  http: CompiledHttpRoute[];
  tls: (TLSRoute & { source: SourceRef })[];
  tcp: (TCPRoute & { source: SourceRef })[];
}

export interface CompiledGateway {
  namespace: string;
  name: string;
  selector: Record<string, string>;
  servers: GatewaySpec["servers"];
}

export interface CompiledDestinationRule {
  source: SourceRef;
  /** Fully qualified (or wildcard) host. */
  host: string;
  exportTo: string[];
  spec: DestinationRuleSpec;
}

export interface CompiledPolicy<S> {
  source: SourceRef;
  /** `mesh` (root namespace, no selector), `namespace` (no selector) or `workload` (selector/targetRef). */
  scope: "mesh" | "namespace" | "workload";
  /** Workloads (`<ns>/<name>`) on this target that the policy applies to; on the gateway: gateway names. */
  appliesTo: string[];
  spec: S;
}

export interface Revocation {
  spiffeId: string;
  revokedAt: number;
}

/** A RateLimitPolicy resolved to the VirtualService routes it limits on the gateway (Gateway targets expanded). */
export interface CompiledRateLimitPolicy {
  source: SourceRef;
  /** `virtualService` = `<ns>/<name>`; `route` = one `http[].name`, absent = every route of that VirtualService. */
  routes: { virtualService: string; route?: string }[];
  rules: RateLimitRule[];
}

/** Edge ingress of a node proxy: where the gateway sends in-cluster traffic for workloads on that node. */
export interface NodeIngress {
  /** `<host>:<port>` or an `http(s)://` URL, from the `strait.io/edge-ingress` annotation of a WorkloadEntry on the node. */
  address: string;
  /** The node proxy's SPIFFE ID (audience of the gateway's JWT-SVID). */
  spiffeId: string;
}

/** What the edge gateway loads. */
export interface GatewaySnapshot {
  type: "gateway";
  trustDomain: string;
  gateways: CompiledGateway[];
  hosts: GatewayHostRoutes[];
  services: Service[];
  destinationRules: CompiledDestinationRule[];
  requestAuthentications: CompiledPolicy<RequestAuthenticationSpec>[];
  authorizationPolicies: CompiledPolicy<AuthorizationPolicySpec>[];
  /** Present only when a RateLimitPolicy exists. */
  rateLimitPolicies?: CompiledRateLimitPolicy[];
  /** `<cluster>/<node>` -> edge ingress; present only when a WorkloadEntry declares one. */
  nodeIngress?: Record<string, NodeIngress>;
}

/** What one node proxy loads: only what its workloads need. */
export interface NodeSnapshot {
  type: "node";
  trustDomain: string;
  node: NodeRef;
  workloads: NodeWorkload[];
  /** Services the node's workloads serve (inbound). */
  inbound: Service[];
  /** Services visible to at least one of the node's workloads (`exportTo`) and allowed by its Sidecar (outbound). */
  outbound: Service[];
  routes: MeshRouteTable[];
  destinationRules: CompiledDestinationRule[];
  authorizationPolicies: CompiledPolicy<AuthorizationPolicySpec>[];
  peerAuthentications: CompiledPolicy<PeerAuthenticationSpec>[];
  requestAuthentications: CompiledPolicy<RequestAuthenticationSpec>[];
  revocations: Revocation[];
}

export type Snapshot = GatewaySnapshot | NodeSnapshot;

/** KV key of a target: `snapshot:gateway` or `snapshot:node:<cluster>/<node>`. */
export function snapshotTarget(node?: { cluster: string; node: string }): string {
  return node === undefined ? "gateway" : `node:${node.cluster}/${node.node}`;
}

/**
 * The signed envelope: the JWS payload is the canonical JSON of this object.
 * `hash` covers `snapshot` only, so an unchanged snapshot keeps its hash
 * across revisions and is not republished.
 */
export interface SnapshotEnvelope {
  target: string;
  version: number;
  revision: number;
  hash: string;
  snapshot: Snapshot;
}
