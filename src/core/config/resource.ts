import type { AuthorizationPolicySpec } from "./kinds/authorization-policy.ts";
import type { DestinationRuleSpec } from "./kinds/destination-rule.ts";
import type { GatewaySpec } from "./kinds/gateway.ts";
import type { PeerAuthenticationSpec } from "./kinds/peer-authentication.ts";
import type { RequestAuthenticationSpec } from "./kinds/request-authentication.ts";
import type { ServiceEntrySpec } from "./kinds/service-entry.ts";
import type { SidecarSpec } from "./kinds/sidecar.ts";
import type { VirtualServiceSpec } from "./kinds/virtual-service.ts";
import type { WorkloadEntrySpec } from "./kinds/workload-entry.ts";
import type { RateLimitPolicySpec } from "./kinds/rate-limit-policy.ts";

/** The Istio kinds Strait understands. */
export type Kind =
  | "Gateway"
  | "VirtualService"
  | "DestinationRule"
  | "ServiceEntry"
  | "WorkloadEntry"
  | "Sidecar"
  | "AuthorizationPolicy"
  | "PeerAuthentication"
  | "RequestAuthentication"
  | "RateLimitPolicy";

export interface KindInfo {
  kind: Kind;
  group: "networking.istio.io" | "security.istio.io" | "gateway.strait.dev";
  /** Storage version first, then the served aliases. */
  versions: readonly string[];
  plural: string;
  shortNames: readonly string[];
}

const NETWORKING_VERSIONS = ["v1", "v1beta1", "v1alpha3"] as const;
const SECURITY_VERSIONS = ["v1", "v1beta1"] as const;

/** Every kind, in a stable order (networking first). */
export const KINDS: readonly KindInfo[] = Object.freeze([
  { kind: "Gateway", group: "networking.istio.io", versions: NETWORKING_VERSIONS, plural: "gateways", shortNames: ["gw"] },
  { kind: "VirtualService", group: "networking.istio.io", versions: NETWORKING_VERSIONS, plural: "virtualservices", shortNames: ["vs"] },
  { kind: "DestinationRule", group: "networking.istio.io", versions: NETWORKING_VERSIONS, plural: "destinationrules", shortNames: ["dr"] },
  { kind: "ServiceEntry", group: "networking.istio.io", versions: NETWORKING_VERSIONS, plural: "serviceentries", shortNames: ["se"] },
  { kind: "WorkloadEntry", group: "networking.istio.io", versions: NETWORKING_VERSIONS, plural: "workloadentries", shortNames: ["we"] },
  { kind: "Sidecar", group: "networking.istio.io", versions: NETWORKING_VERSIONS, plural: "sidecars", shortNames: [] },
  { kind: "AuthorizationPolicy", group: "security.istio.io", versions: SECURITY_VERSIONS, plural: "authorizationpolicies", shortNames: ["ap"] },
  { kind: "PeerAuthentication", group: "security.istio.io", versions: SECURITY_VERSIONS, plural: "peerauthentications", shortNames: ["pa"] },
  { kind: "RequestAuthentication", group: "security.istio.io", versions: SECURITY_VERSIONS, plural: "requestauthentications", shortNames: ["ra"] },
  { kind: "RateLimitPolicy", group: "gateway.strait.dev", versions: ["v1alpha1"], plural: "ratelimitpolicies", shortNames: ["rlp"] },
] satisfies KindInfo[]);

const BY_KIND = new Map(KINDS.map((k) => [k.kind, k] as const));

/** Facts about a kind. Throws TypeError for a value outside `Kind` (caller bug). */
export function kindInfo(kind: Kind): KindInfo {
  const info = BY_KIND.get(kind);
  if (info === undefined) throw new TypeError(`unknown kind ${String(kind)}`);
  return info;
}

/** The `apiVersion` to emit for a kind: `<group>/<storage version>`. */
export function storageApiVersion(kind: Kind): string {
  const info = kindInfo(kind);
  return `${info.group}/${info.versions[0]}`;
}

/** Kind served at `/apis/<group>/<version>/.../<plural>`, if any. */
export function findKindByPlural(group: string, version: string, plural: string): KindInfo | undefined {
  return KINDS.find((k) => k.group === group && k.plural === plural && k.versions.includes(version));
}

/** Kind for an `apiVersion` + `kind` pair (any served version), if any. */
export function findKind(apiVersion: string, kind: string): KindInfo | undefined {
  const slash = apiVersion.indexOf("/");
  if (slash < 0) return undefined;
  const group = apiVersion.slice(0, slash);
  const version = apiVersion.slice(slash + 1);
  return KINDS.find((k) => k.kind === kind && k.group === group && k.versions.includes(version));
}

/**
 * Resolves what a user typed on the CLI: kind (`VirtualService`, any case),
 * plural (`virtualservices`), singular lowercase or short name (`vs`).
 */
export function resolveKindName(nameOrShort: string): KindInfo | undefined {
  const n = nameOrShort.toLowerCase();
  return KINDS.find((k) => k.kind.toLowerCase() === n || k.plural === n || k.shortNames.includes(n));
}

export interface ObjectMeta {
  name: string;
  namespace: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  resourceVersion?: string;
  generation?: number;
  uid?: string;
  creationTimestamp?: string;
}

export interface Resource<S = unknown> {
  apiVersion: string;
  kind: Kind;
  metadata: ObjectMeta;
  spec: S;
}

/** Maps each kind to its spec type. */
export interface SpecByKind {
  Gateway: GatewaySpec;
  VirtualService: VirtualServiceSpec;
  DestinationRule: DestinationRuleSpec;
  ServiceEntry: ServiceEntrySpec;
  WorkloadEntry: WorkloadEntrySpec;
  Sidecar: SidecarSpec;
  AuthorizationPolicy: AuthorizationPolicySpec;
  PeerAuthentication: PeerAuthenticationSpec;
  RequestAuthentication: RequestAuthenticationSpec;
  RateLimitPolicy: RateLimitPolicySpec;
}

/** A resource of one kind, with its spec typed. */
export type ResourceOf<K extends Kind> = Resource<SpecByKind[K]> & { kind: K };

export type GatewayResource = ResourceOf<"Gateway">;
export type VirtualServiceResource = ResourceOf<"VirtualService">;
export type DestinationRuleResource = ResourceOf<"DestinationRule">;
export type ServiceEntryResource = ResourceOf<"ServiceEntry">;
export type WorkloadEntryResource = ResourceOf<"WorkloadEntry">;
export type SidecarResource = ResourceOf<"Sidecar">;
export type AuthorizationPolicyResource = ResourceOf<"AuthorizationPolicy">;
export type PeerAuthenticationResource = ResourceOf<"PeerAuthentication">;
export type RequestAuthenticationResource = ResourceOf<"RequestAuthentication">;
export type RateLimitPolicyResource = ResourceOf<"RateLimitPolicy">;

/** Any validated resource; narrow on `kind` to get the typed spec. */
export type AnyResource = { [K in Kind]: ResourceOf<K> }[Kind];

/** Stable identity of a resource: `Kind/namespace/name`. */
export function resourceKey(r: { kind: Kind; metadata: { namespace: string; name: string } }): string {
  return `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`;
}
