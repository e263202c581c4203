/**
 * An HTTP route with everything that does not depend on the request
 * precomputed at table-compile time: regexes, header ops, CORS, faults,
 * mirrors, timeout, redirect and direct-response bodies.
 */
import type { Destination, HTTPDirectResponse, HTTPRedirect, HTTPRetry, HTTPRoute } from "../config/kinds/virtual-service.ts";
import type { CompiledHttpRoute, SourceRef } from "../snapshot/snapshot-model.ts";
import { parseDurationMs } from "../config/duration.ts";
import { compileHeaderOperations } from "./header-ops.ts";
import { compileRewrite, type CompiledRewrite } from "./rewrite.ts";
import { compileCors } from "./cors.ts";
import { compileFault, type CompiledFault } from "./fault.ts";
import { compileMirrors, type CompiledMirror } from "./mirror.ts";
import { RouteCompileError } from "./errors.ts";
import type { CorsPolicyPlan, DestinationRef, HeaderOp, ResolvedCluster, RetryPolicy } from "./types.ts";

export interface CompiledDestination {
  destination: Destination;
  weight?: number;
  /** `Host`/`:authority` set in this destination's `headers.request`. */
  authority?: string;
  /** The route's and this destination's request ops in the order Envoy evaluates them (see `combineOps`). */
  upstreamRequestOps: readonly HeaderOp[];
  /** The same for response ops. */
  upstreamResponseOps: readonly HeaderOp[];
  /**
   * What `planRequest` derived for this destination the last time (a pure memo, filled on first
   * use: the resolved cluster, the plan's destination reference and the route's retry policy
   * for that cluster). Shared by every plan that picks this destination, so read-only.
   */
  resolved?: ResolvedDestination;
}

/** A destination resolved for a request port (mesh tables only: a gateway's clusters do not depend on it). */
export type ResolvedDestination =
  | { readonly requestPort: number; readonly ok: true; readonly cluster: ResolvedCluster; readonly ref: Readonly<DestinationRef>; readonly retry: Readonly<RetryPolicy> }
  | { readonly requestPort: number; readonly ok: false; readonly reason: string };

export interface CompiledRoute {
  ref: { name?: string; source: SourceRef & { index: number } };
  route: HTTPRoute;
  rewrite?: CompiledRewrite;
  cors?: CorsPolicyPlan;
  requestOps: HeaderOp[];
  responseOps: HeaderOp[];
  /** `Host`/`:authority` set in the route's `headers.request` (beats destination-level values). */
  authority?: string;
  destinations: CompiledDestination[];
  timeoutMs?: number;
  retries?: HTTPRetry;
  fault?: CompiledFault;
  mirrors: CompiledMirror[];
  redirect?: HTTPRedirect;
  directResponse?: { status: number; body?: string | Uint8Array };
}

export function compileRoute(cr: CompiledHttpRoute, field: string): CompiledRoute {
  const r = cr.route;
  if (r.delegate !== undefined) {
    throw new RouteCompileError("delegate routes are not resolved in the snapshot", { field: `${field}.delegate` });
  }
  const headers = compileHeaderOperations(r.headers?.request);
  const response = compileHeaderOperations(r.headers?.response);
  // Istio translates a route with more than one destination to Envoy weighted clusters.
  const weighted = (r.route ?? []).length > 1;
  const out: CompiledRoute = {
    ref: r.name === undefined ? { source: cr.source } : { name: r.name, source: cr.source },
    route: r,
    requestOps: headers.ops,
    responseOps: response.ops,
    destinations: (r.route ?? []).map((d) => {
      const req = compileHeaderOperations(d.headers?.request);
      const res = compileHeaderOperations(d.headers?.response);
      const cd: CompiledDestination = {
        destination: d.destination,
        upstreamRequestOps: combineOps(headers.ops, req.ops, weighted),
        upstreamResponseOps: combineOps(response.ops, res.ops, weighted),
      };
      if (d.weight !== undefined) cd.weight = d.weight;
      if (req.authority !== undefined) cd.authority = req.authority;
      return cd;
    }),
    mirrors: compileMirrors(r),
  };
  if (headers.authority !== undefined) out.authority = headers.authority;
  const rewrite = compileRewrite(r.rewrite, `${field}.rewrite`);
  if (rewrite !== undefined) out.rewrite = rewrite;
  const cors = compileCors(r.corsPolicy, `${field}.corsPolicy`);
  if (cors !== undefined) out.cors = cors;
  if (r.timeout !== undefined) {
    const ms = parseDurationMs(r.timeout);
    // 0s disables the timeout, as Istio's default does.
    if (ms !== undefined && ms > 0) out.timeoutMs = ms;
  }
  if (r.retries !== undefined) out.retries = r.retries;
  const fault = compileFault(r.fault);
  if (fault !== undefined) out.fault = fault;
  if (r.redirect !== undefined) out.redirect = r.redirect;
  if (r.directResponse !== undefined) out.directResponse = directBody(r.directResponse, field);
  if (out.redirect === undefined && out.directResponse === undefined && out.destinations.length === 0) {
    throw new RouteCompileError("route has no destination, redirect or directResponse", { field });
  }
  return out;
}

/**
 * Route-level and destination-level header ops in the order Envoy applies Istio's translation
 * (pilot `processDestination` / `processWeightedDestination`): with one destination, its ops are
 * appended to the route's in one Envoy header parser, which removes before it sets and adds (so
 * every remove of either level comes first, then the route's sets and adds, then the
 * destination's); with weighted destinations, the destination's ops live on the weighted cluster,
 * which Envoy applies before the route's (so on a conflict the route's value wins). Each level's
 * list is already removes, then sets, then adds (`compileHeaderOperations`).
 */
export function combineOps(route: readonly HeaderOp[], destination: readonly HeaderOp[], weighted: boolean): readonly HeaderOp[] {
  if (destination.length === 0) return route;
  if (route.length === 0) return destination;
  if (weighted) return [...destination, ...route];
  const isRemove = (o: HeaderOp) => o.op === "remove";
  return [...route.filter(isRemove), ...destination.filter(isRemove), ...route.filter((o) => !isRemove(o)), ...destination.filter((o) => !isRemove(o))];
}

function directBody(d: HTTPDirectResponse, field: string): { status: number; body?: string | Uint8Array } {
  if (d.body?.string !== undefined) return { status: d.status, body: d.body.string };
  if (d.body?.bytes !== undefined) {
    try {
      const bin = atob(d.body.bytes);
      const bytes = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
      return { status: d.status, body: bytes };
    } catch (err) {
      throw new RouteCompileError("directResponse.body.bytes is not base64", { field: `${field}.directResponse.body.bytes`, cause: err });
    }
  }
  return { status: d.status };
}
