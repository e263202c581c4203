/**
 * Strait routing core: Istio VirtualService / DestinationRule semantics as
 * pure functions, shared by the edge gateway and the node proxy ("one
 * implementation, two runtimes"). No I/O, no clock, no runtime APIs.
 *
 * @example
 * const table = compileGatewayRoutes(snapshot);           // once per snapshot
 * const plan = planRequest(table, facts);                 // per request
 * if (plan.kind === "forward") {
 *   const lb = lbs.get(plan.cluster.name) ?? createLoadBalancer(plan.cluster.trafficPolicy.loadBalancer);
 *   const ep = lb.pick(plan.cluster.endpoints, { hashKey: plan.hashKey });
 * }
 */
export type {
  RequestFacts,
  HeaderOp,
  HeaderSink,
  UpstreamEndpoint,
  EffectiveTrafficPolicy,
  ResolvedCluster,
  DestinationRef,
  RetryPolicy,
  AttemptOutcome,
  RetryDecision,
  CorsPolicyPlan,
  CorsPreflightResult,
  OriginMatcher,
  FaultPlan,
  MirrorPlan,
  CookieToSet,
  ForwardPlan,
  RequestPlan,
  CompileIssue,
} from "./types.ts";
export { RoutingError, RegexCompileError, RouteCompileError } from "./errors.ts";
export { compileRegex, type Re2Pattern } from "./regex.ts";
export { hostMatchesPattern, stripPort, virtualHostLookup } from "./host-match.ts";
export {
  compileGatewayRoutes,
  compileMeshRoutes,
  lookupRoute,
  type GatewayRouteTable,
  type MeshRouteTable,
  type RouteTable,
  type GatewayRouteOptions,
  type MeshRouteOptions,
  type RouteLookup,
} from "./route-table.ts";
export { planRequest } from "./plan.ts";
export { applyHeaderOps } from "./header-ops.ts";
export { resolveRetryPolicy, retryDecision, DEFAULT_RETRY_ON } from "./retry-policy.ts";
export { corsPreflight, corsResponseHeaders } from "./cors.ts";
export { pickWeighted } from "./weighted-pick.ts";
export { createLoadBalancer, setCookieHeader, cookieValue, type LoadBalancer, type PickContext } from "./load-balancer/index.ts";
