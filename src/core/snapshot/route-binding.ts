import type { VirtualServiceResource } from "../config/resource.ts";
import type { Destination, HTTPMatchRequest, HTTPRoute } from "../config/kinds/virtual-service.ts";
import { fqdn, parseGatewayRef } from "../config/hosts.ts";
import type { CompiledHttpRoute } from "./snapshot-model.ts";

/** A binding target: the mesh (every sidecar) or one Gateway. */
export type BindTarget = { mesh: true } | { mesh: false; namespace: string; name: string };

function sameTarget(ref: string, vsNamespace: string, target: BindTarget): boolean {
  const r = parseGatewayRef(ref, vsNamespace);
  if (r.mesh || target.mesh) return r.mesh === target.mesh;
  return r.namespace === target.namespace && r.name === target.name;
}

/** True when the VS (top-level `gateways`, omitted = `mesh`) binds to `target`. */
export function boundTo(vs: VirtualServiceResource, target: BindTarget): boolean {
  const gateways = vs.spec.gateways === undefined || vs.spec.gateways.length === 0 ? ["mesh"] : vs.spec.gateways;
  return gateways.some((g) => sameTarget(g, vs.metadata.namespace, target));
}

/**
 * A match entry Envoy sees as catch-all (pilot `isCatchAllRoute` on the
 * translated route): path prefix `/` or regex `*`, or no `uri` at all, and no
 * header or query condition. `scheme`, `method` and `authority` become
 * pseudo-header matches, so they narrow. `port`, `gateways`, `sourceLabels`
 * and `sourceNamespace` select where the route is installed, not which
 * requests it takes, so they don't.
 */
export function isCatchAllMatch(m: HTTPMatchRequest): boolean {
  const narrowing = [m.scheme, m.method, m.authority, m.headers, m.queryParams, m.withoutHeaders];
  if (narrowing.some((f) => f !== undefined && Object.keys(f).length > 0)) return false;
  if (m.uri === undefined) return true;
  const { exact, prefix, regex } = m.uri;
  if (exact !== undefined) return false;
  if (prefix !== undefined) return prefix === "/";
  if (regex !== undefined) return regex === "*";
  return true;
}

/** A route without `match`, or whose every entry is a catch-all. */
export function isCatchAllRoute(r: HTTPRoute): boolean {
  return r.match === undefined || r.match.length === 0 || r.match.every(isCatchAllMatch);
}

function qualify(d: Destination, namespace: string, suffix: string): Destination {
  return { ...d, host: fqdn(d.host, namespace, suffix) };
}

/** Route with destination, mirror and mirrors hosts made fully qualified relative to the VS namespace. */
function qualifyRoute(r: HTTPRoute, namespace: string, suffix: string): HTTPRoute {
  const out: HTTPRoute = { ...r };
  if (r.route !== undefined) out.route = r.route.map((d) => ({ ...d, destination: qualify(d.destination, namespace, suffix) }));
  if (r.mirror !== undefined) out.mirror = qualify(r.mirror, namespace, suffix);
  if (r.mirrors !== undefined) out.mirrors = r.mirrors.map((m) => ({ ...m, destination: qualify(m.destination, namespace, suffix) }));
  return out;
}

/**
 * A catch-all entry that ends the VS's routes wherever it is installed: one
 * that also names a `port` or source selectors is left out of pilot's output
 * on other listeners and clients (translateRoute returns nil there), so it
 * does not cut the routes after it here, where one table serves them all.
 */
function endsRoutes(m: HTTPMatchRequest): boolean {
  if (m.port !== undefined && m.port !== 0) return false;
  if (m.sourceNamespace !== undefined && m.sourceNamespace !== "") return false;
  if (m.sourceLabels !== undefined && Object.keys(m.sourceLabels).length > 0) return false;
  return isCatchAllMatch(m);
}

/**
 * The HTTP routes of `vs` that apply on `target`, in order. A match entry
 * with its own `gateways` overrides the VS's list; a route whose entries all
 * bind elsewhere is dropped. Like pilot `BuildHTTPRoutesForVirtualService`,
 * nothing after the first catch-all (a route without `match`, or a catch-all
 * match entry) is generated: the entries after it in its route and every
 * later route are left out, so they stay unreachable even where catch-alls
 * are moved last.
 */
export function httpRoutesFor(vs: VirtualServiceResource, target: BindTarget, suffix: string): CompiledHttpRoute[] {
  const ns = vs.metadata.namespace;
  const topBound = boundTo(vs, target);
  const out: CompiledHttpRoute[] = [];
  for (const [index, route] of (vs.spec.http ?? []).entries()) {
    let r = route;
    if (route.match !== undefined && route.match.some((m) => m.gateways !== undefined && m.gateways.length > 0)) {
      const kept = route.match.filter((m) =>
        m.gateways !== undefined && m.gateways.length > 0 ? m.gateways.some((g) => sameTarget(g, ns, target)) : topBound,
      );
      if (kept.length === 0) continue;
      r = { ...route, match: kept };
    } else if (!topBound) {
      continue;
    }
    const match = r.match;
    // -1: nothing here ends the routes; else the index of the entry that does (0 for a route without match).
    const cut = match === undefined || match.length === 0 ? 0 : match.findIndex(endsRoutes);
    if (match !== undefined && cut >= 0 && cut < match.length - 1) r = { ...r, match: match.slice(0, cut + 1) };
    out.push({
      source: { kind: "VirtualService", namespace: ns, name: vs.metadata.name, index },
      route: qualifyRoute(r, ns, suffix),
      catchAll: isCatchAllRoute(r),
    });
    if (cut >= 0) break;
  }
  return out;
}

/**
 * Stable partition: catch-all routes move after every other route (pilot
 * `SortVHostRoutes`). Istio sorts translated Envoy routes, one per match
 * entry, so a route mixing catch-all and narrower entries is split: the
 * narrower entries keep their place and only the catch-all ones move last.
 */
export function catchAllsLast(routes: readonly CompiledHttpRoute[]): CompiledHttpRoute[] {
  const head: CompiledHttpRoute[] = [];
  const tail: CompiledHttpRoute[] = [];
  for (const r of routes) {
    const match = r.route.match;
    if (r.catchAll || match === undefined || match.length === 0) {
      (r.catchAll ? tail : head).push(r);
      continue;
    }
    const wide = match.filter(isCatchAllMatch);
    if (wide.length === 0) {
      head.push(r);
      continue;
    }
    head.push({ ...r, route: { ...r.route, match: match.filter((m) => !isCatchAllMatch(m)) } });
    tail.push({ ...r, route: { ...r.route, match: wide }, catchAll: true });
  }
  return [...head, ...tail];
}
