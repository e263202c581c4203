/**
 * Everything the gateway derives from one verified snapshot, built once when the snapshot is
 * swapped in: the route table (routing core), the authorization engine and request
 * authenticator (policy core), rate limits, and per-cluster load balancers and counters.
 */
import type { Clock } from "../../core/clock.ts";
import { compileGatewayRoutes, createLoadBalancer, type GatewayRouteTable, type LoadBalancer, type ResolvedCluster } from "../../core/routing/index.ts";
import { compileRequestAuthentication, type JwksResolver, type RequestAuthenticator } from "../../core/policy/index.ts";
import type { GatewaySnapshot, NodeIngress } from "../../core/snapshot/snapshot-model.ts";
import type { VerifiedSnapshot } from "../../core/snapshot/snapshot-reader.ts";
import { RateLimitTable } from "../rate-limit/rate-limit-table.ts";
import { GatewayAuthorization } from "./gateway-authorization.ts";

export interface CompiledGateway {
  version: number;
  revision: number;
  hash: string;
  snapshot: GatewaySnapshot;
  routes: GatewayRouteTable;
  /** AuthorizationPolicy engines per Gateway (a request sees only its Gateway's policies). */
  authz: GatewayAuthorization;
  authn: RequestAuthenticator;
  rateLimits: RateLimitTable;
  nodeIngress: Readonly<Record<string, NodeIngress>>;
  /** Per-cluster state: load balancer and in-flight count (for connectionPool overflow, UO). */
  cluster(c: ResolvedCluster): ClusterState;
  /** Config the compilers refused, one entry per problem (shown on /healthz as counts, logged in full). */
  issues: string[];
}

export interface ClusterState {
  balancer: LoadBalancer;
  inflight: number;
}

export interface CompileGatewayOptions {
  jwks: JwksResolver;
  clock: Clock;
  rootNamespace?: string;
  rng?: () => number;
}

export function compileGateway(v: VerifiedSnapshot<GatewaySnapshot>, o: CompileGatewayOptions): CompiledGateway {
  const snapshot = v.snapshot;
  const routes = compileGatewayRoutes(snapshot, o.rootNamespace === undefined ? {} : { rootNamespace: o.rootNamespace });
  // One edge gateway serves every Gateway of the snapshot; each request sees the policies of its own Gateway.
  const authz = new GatewayAuthorization(snapshot);
  const authn = compileRequestAuthentication(snapshot.requestAuthentications, { jwks: o.jwks, clock: o.clock });
  const clusters = new Map<string, ClusterState>();
  const issues = [
    ...routes.issues.map((i) => `${i.resource} ${i.field}: ${i.message}`),
    ...authz.problems.map((p) => `AuthorizationPolicy ${p.policy}${p.field === undefined ? "" : ` ${p.field}`}: ${p.message}`),
    ...authn.problems.map((p) => `RequestAuthentication ${p.policy}${p.field === undefined ? "" : ` ${p.field}`}: ${p.message}`),
  ];
  return {
    version: v.version,
    revision: v.revision,
    hash: v.hash,
    snapshot,
    routes,
    authz,
    authn,
    rateLimits: new RateLimitTable(snapshot.rateLimitPolicies ?? []),
    nodeIngress: snapshot.nodeIngress ?? {},
    issues,
    cluster(c) {
      let s = clusters.get(c.name);
      if (s === undefined) {
        s = { balancer: createLoadBalancer(c.trafficPolicy.loadBalancer, o.rng), inflight: 0 };
        clusters.set(c.name, s);
      }
      return s;
    },
  };
}
