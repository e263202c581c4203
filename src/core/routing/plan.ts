/**
 * The request plan: what the gateway or proxy does with one request,
 * decided purely from the compiled table and the request facts. Dice
 * (weights, fault and mirror percentages, a new sticky cookie) come from
 * `rng`, so tests are deterministic.
 */
import type { Destination } from "../config/kinds/virtual-service.ts";
import { findRoute, type RouteTable } from "./route-table.ts";
import { RequestView } from "./request-view.ts";
import { resolveCluster, type ClusterResult } from "./cluster.ts";
import { pickWeighted } from "./weighted-pick.ts";
import { resolveRetryPolicy } from "./retry-policy.ts";
import { rollFault, rolls } from "./fault.ts";
import { rewritePath } from "./rewrite.ts";
import { redirectLocation } from "./redirect.ts";
import { hashInput } from "./load-balancer/hash-policy.ts";
import type { CompiledDestination, CompiledRoute, ResolvedDestination } from "./compiled-route.ts";
import type { DestinationRef, ForwardPlan, MirrorPlan, RequestFacts, RequestPlan } from "./types.ts";

function clusterFor(table: RouteTable, dest: Destination, requestPort: number): ClusterResult {
  const port = dest.port?.number;
  const key = `${dest.host}|${port ?? (table.kind === "mesh" ? `req:${requestPort}` : "")}|${dest.subset ?? ""}`;
  let hit = table.clusters.get(key);
  if (hit === undefined) {
    // The gateway has no "request port" for upstreams; the mesh keeps the service port.
    hit = resolveCluster(table.scope, dest, table.kind === "mesh" ? requestPort : undefined);
    table.clusters.set(key, hit);
  }
  return hit;
}

function destinationRef(dest: Destination, cluster: { host: string; port?: number; subset?: string }): DestinationRef {
  const out: DestinationRef = { host: cluster.host };
  if (cluster.port !== undefined) out.port = cluster.port;
  if (dest.subset !== undefined && dest.subset !== "") out.subset = dest.subset;
  return out;
}

/**
 * The destination's cluster, reference and retry policy: resolved once per destination (and per
 * request port in a mesh table) instead of on every request; the memo never changes an answer.
 */
function resolveDestination(table: RouteTable, r: CompiledRoute, cd: CompiledDestination, requestPort: number): ResolvedDestination {
  const memo = cd.resolved;
  if (memo !== undefined && (table.kind === "gateway" || memo.requestPort === requestPort)) return memo;
  const cluster = clusterFor(table, cd.destination, requestPort);
  const fresh: ResolvedDestination = cluster.ok
    ? {
        requestPort,
        ok: true,
        cluster: cluster.cluster,
        ref: Object.freeze(destinationRef(cd.destination, cluster.cluster)),
        retry: Object.freeze(resolveRetryPolicy(r.retries, cluster.cluster.trafficPolicy.loadBalancer?.consistentHash !== undefined)),
      }
    : { requestPort, ok: false, reason: cluster.reason };
  cd.resolved = fresh;
  return fresh;
}

/**
 * Plans one request. Pure apart from memoizing resolved clusters in the table.
 * @example
 * const plan = planRequest(table, { method: "GET", scheme: "http", authority: "shop.example.com", path: "/", port: 80, headers: new Map() });
 */
export function planRequest(table: RouteTable, facts: RequestFacts, rng: () => number = Math.random): RequestPlan {
  const view = new RequestView(facts);
  const found = findRoute(table, facts, view);
  if (found.kind === "no-route") return { kind: "no-route", status: 404, flag: "NR", reason: found.reason };
  if (found.kind === "https-redirect") return { kind: "redirect", status: 301, location: found.location, responseHeaderOps: [] };
  const r: CompiledRoute = found.route;
  if (r.redirect !== undefined) {
    const { status, location } = redirectLocation(r.redirect, view, found.match);
    const plan: RequestPlan = { kind: "redirect", status, location, route: r.ref, responseHeaderOps: r.responseOps };
    if (r.cors !== undefined) plan.cors = r.cors;
    return plan;
  }
  if (r.directResponse !== undefined) {
    const plan: RequestPlan = { kind: "direct-response", status: r.directResponse.status, route: r.ref, responseHeaderOps: r.responseOps };
    if (r.directResponse.body !== undefined) plan.body = r.directResponse.body;
    if (r.cors !== undefined) plan.cors = r.cors;
    return plan;
  }
  const picked = pickWeighted(r.destinations, rng)!;
  const resolved = resolveDestination(table, r, picked, facts.port);
  if (!resolved.ok) return { kind: "no-cluster", status: 503, flag: "NC", reason: resolved.reason, route: r.ref };
  const cluster = resolved.cluster;

  const path = rewritePath(r.rewrite, view, found.match);
  // Authority (pilot applyHTTPRouteDestination): rewrite.authority, else a route-level Host/:authority
  // set, is the route's host rewrite; it beats a destination-level one (validation allows only one of
  // the two route-level ones).
  const authority = r.rewrite?.authority ?? r.authority ?? picked.authority ?? facts.authority;
  const plan: ForwardPlan = {
    kind: "forward",
    route: r.ref,
    destination: resolved.ref,
    cluster,
    // Route and destination ops combined at compile time, in Envoy's order (`combineOps`): shared, read-only.
    upstreamRequest: { path, authority, headerOps: picked.upstreamRequestOps },
    responseHeaderOps: picked.upstreamResponseOps,
    retry: resolved.retry,
    mirrors: [],
  };
  if (r.timeoutMs !== undefined) plan.timeoutMs = r.timeoutMs;
  const fault = rollFault(r.fault, rng);
  if (fault !== undefined) plan.fault = fault;
  for (const m of r.mirrors) {
    if (!rolls(m.percentage, rng)) continue;
    const mc = clusterFor(table, m.destination, facts.port);
    if (!mc.ok) continue;
    const mirror: MirrorPlan = { destination: destinationRef(m.destination, mc.cluster), cluster: mc.cluster, percentage: m.percentage, authority };
    plan.mirrors.push(mirror);
  }
  if (r.cors !== undefined) plan.cors = r.cors;
  const ch = cluster.trafficPolicy.loadBalancer?.consistentHash;
  if (ch !== undefined) {
    const h = hashInput(ch, view, rng);
    if (h.key !== undefined) plan.hashKey = h.key;
    if (h.setCookie !== undefined) plan.setCookie = h.setCookie;
  }
  return plan;
}
