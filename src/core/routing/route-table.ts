/**
 * Route tables, compiled once per snapshot. The gateway table is keyed by
 * listener port (Gateway server port), then by virtual host (exact name,
 * then the longest wildcard, then `*`); the mesh table by destination host
 * (FQDN plus the short names Istio accepts). Within a virtual host,
 * `RouteIndex` finds the first matching entry in config order.
 */
import type { HTTPMatchRequest } from "../config/kinds/virtual-service.ts";
import type { Server } from "../config/kinds/gateway.ts";
import type { CompiledHttpRoute, GatewaySnapshot, NodeSnapshot, SourceRef } from "../snapshot/snapshot-model.ts";
import { hostsOverlap, hostMatches, parseGatewayHost } from "../config/hosts.ts";
import { visibleFrom } from "../snapshot/export-visibility.ts";
import { matchesLabels } from "../snapshot/label-match.ts";
import { DEFAULT_ROOT_NAMESPACE } from "../snapshot/compile-context.ts";
import { stripPort, VirtualHostIndex } from "./host-match.ts";
import { RouteIndex } from "./route-index.ts";
import { compileMatch } from "./request-match.ts";
import { compileRoute, type CompiledRoute } from "./compiled-route.ts";
import { RequestView } from "./request-view.ts";
import { httpsRedirectLocation } from "./redirect.ts";
import { RoutingError } from "./errors.ts";
import type { ClusterResult, ClusterScope } from "./cluster.ts";
import type { CompileIssue, RequestFacts } from "./types.ts";

export interface GatewayRouteOptions {
  /** Root namespace for DestinationRule lookup. Default `strait-system`. */
  rootNamespace?: string;
  /** Namespace the gateway runs in: the client namespace of DestinationRule lookups. Default: the root namespace. */
  gatewayNamespace?: string;
  /** Labels of the gateway workload, for match entries with `sourceLabels`. */
  gatewayLabels?: Readonly<Record<string, string>>;
}

export interface MeshRouteOptions {
  rootNamespace?: string;
  /** Labels of the calling workload (match `sourceLabels`, DestinationRule `workloadSelector`). */
  sourceLabels?: Readonly<Record<string, string>>;
}

/** A matched entry: the compiled route and the match entry that matched (absent for a route without `match`). */
export interface RouteHit {
  route: CompiledRoute;
  match?: HTTPMatchRequest;
  /** The lookup answer for this entry, built once at compile time so a lookup allocates nothing. */
  found: RouteLookup & { kind: "route" };
}

function hitOf(route: CompiledRoute, match?: HTTPMatchRequest): RouteHit {
  // One shape for every answer (match present even when undefined) keeps callers' property access monomorphic.
  const found: RouteLookup & { kind: "route" } = { kind: "route", route, match, source: route.ref.source };
  return match === undefined ? { route, found } : { route, match, found };
}

export interface VirtualHost {
  host: string;
  index: RouteIndex<RouteHit>;
  /** The answer when no route of this host matches, built once. */
  noMatch: RouteLookup & { kind: "no-route" };
}

/** What a `Host` value selects on one listener (or in the mesh); memoized per raw value. */
interface HostEntry {
  readonly vhost: VirtualHost | undefined;
  /** A Gateway server with `tls.httpsRedirect` covers the host: plain-http requests get a 301. */
  readonly redirect: boolean;
  /** The answer when no virtual host matches, built once. */
  readonly noHost: RouteLookup & { kind: "no-route" };
}

/** Routes on one listener. */
export interface ListenerRoutes {
  /** Server hosts with `tls.httpsRedirect`. */
  redirects: VirtualHostIndex<true>;
  vhosts: VirtualHostIndex<VirtualHost>;
  /** Raw `Host` value -> what it selects here; bounded (`HOST_CACHE_LIMIT`), a pure memo. */
  hosts: Map<string, HostEntry>;
}

interface TableBase {
  readonly issues: readonly CompileIssue[];
  /** Where destinations are resolved; used by `planRequest`. */
  readonly scope: ClusterScope;
  /** Clusters resolved so far, by `host|port|subset` (filled lazily, never changes a result). */
  readonly clusters: Map<string, ClusterResult>;
  /** `Host` header -> normalized host (lowercase, no port); bounded, a pure memo. */
  readonly hostCache: Map<string, string>;
  /** The last Host selection, checked before the per-listener memo: consecutive requests mostly carry the same Host. */
  readonly lastHost: LastHost;
}

/**
 * One-entry caches in front of the listener lookup and `ListenerRoutes.hosts`
 * (pure memos: they never change an answer). `authority` is `null` when
 * `entry` is not valid for `listener`.
 */
interface LastHost {
  port: number;
  scheme: string;
  listener: ListenerRoutes | undefined;
  authority: string | null;
  entry: HostEntry | undefined;
}

function newLastHost(): LastHost {
  return { port: -1, scheme: "", listener: undefined, authority: null, entry: undefined };
}

const HOST_CACHE_LIMIT = 1024;

/** What `authority` selects on a listener, memoized there (one Map lookup per request after the first). */
function hostEntry(table: TableBase, listener: ListenerRoutes, authority: string): HostEntry {
  const hit = listener.hosts.get(authority);
  if (hit !== undefined) return hit;
  const host = normalizedHost(table, authority);
  const entry: HostEntry = {
    vhost: listener.vhosts.lookupHost(host),
    redirect: !listener.redirects.empty && listener.redirects.lookupHost(host) !== undefined,
    noHost: { kind: "no-route", reason: `no virtual host for ${authority}` },
  };
  // Many distinct Host values (a scan, an attack) just reset the memo; it never grows past the limit.
  if (listener.hosts.size >= HOST_CACHE_LIMIT) listener.hosts.clear();
  listener.hosts.set(authority, entry);
  return entry;
}

/** `stripPort` memoized per table: a gateway sees few distinct Host values, and the native string hash is cheaper than a scan. */
function normalizedHost(table: TableBase, authority: string): string {
  let host = table.hostCache.get(authority);
  if (host === undefined) {
    host = stripPort(authority);
    // Many distinct Host values (a scan, an attack) just reset the memo; it never grows past the limit.
    if (table.hostCache.size >= HOST_CACHE_LIMIT) table.hostCache.clear();
    table.hostCache.set(authority, host);
  }
  return host;
}

export interface GatewayRouteTable extends TableBase {
  readonly kind: "gateway";
  /** By Gateway server port. */
  readonly listeners: ReadonlyMap<number, ListenerRoutes>;
  /** Used when the request's port is not a server port: every HTTP (or HTTPS) server merged. */
  readonly byScheme: { readonly http: ListenerRoutes; readonly https: ListenerRoutes };
}

export interface MeshRouteTable extends TableBase {
  readonly kind: "mesh";
  readonly sourceNamespace: string;
  readonly vhosts: VirtualHostIndex<VirtualHost>;
  /** `vhosts` as a listener without redirects, for the shared lookup. */
  readonly listener: ListenerRoutes;
}

export type RouteTable = GatewayRouteTable | MeshRouteTable;

export type RouteLookup =
  | { kind: "route"; route: CompiledRoute; match: HTTPMatchRequest | undefined; source: SourceRef & { index: number } }
  | { kind: "https-redirect"; location: string }
  | { kind: "no-route"; reason: string };

function resourceName(s: SourceRef): string {
  return `${s.kind}/${s.namespace}/${s.name}`;
}

function issueOf(err: unknown, source: SourceRef, field: string): CompileIssue {
  if (err instanceof RoutingError) return { resource: resourceName(source), field: err.field ?? field, message: err.message };
  return { resource: resourceName(source), field, message: err instanceof Error ? err.message : String(err) };
}

/** Which match entries apply to this client (`sourceLabels`/`sourceNamespace` select clients at config time). */
interface ClientSelector {
  namespace?: string;
  labels?: Readonly<Record<string, string>>;
}

function entryApplies(m: HTTPMatchRequest, client: ClientSelector): boolean {
  if (m.sourceNamespace !== undefined && m.sourceNamespace !== "" && m.sourceNamespace !== client.namespace) return false;
  if (m.sourceLabels !== undefined && Object.keys(m.sourceLabels).length > 0) {
    if (client.labels === undefined || !matchesLabels(m.sourceLabels, client.labels)) return false;
  }
  return true;
}

function compileVirtualHost(host: string, routes: readonly CompiledHttpRoute[], client: ClientSelector, issues: CompileIssue[]): VirtualHost {
  const index = new RouteIndex<RouteHit>();
  for (const cr of routes) {
    const field = `spec.http[${cr.source.index}]`;
    let route: CompiledRoute;
    try {
      route = compileRoute(cr, field);
    } catch (err) {
      issues.push(issueOf(err, cr.source, field));
      continue;
    }
    const matches = cr.route.match;
    if (matches === undefined || matches.length === 0) {
      index.add(compileMatch(undefined, field), hitOf(route));
      continue;
    }
    matches.forEach((m, j) => {
      if (!entryApplies(m, client)) return;
      try {
        index.add(compileMatch(m, `${field}.match[${j}]`), hitOf(route, m));
      } catch (err) {
        issues.push(issueOf(err, cr.source, `${field}.match[${j}]`));
      }
    });
  }
  return { host, index, noMatch: { kind: "no-route", reason: `no route of ${host} matches` } };
}

type ServerKind = "http" | "https" | undefined;

/** HTTP-carrying servers: plain HTTP-family protocols, and HTTPS that terminates TLS. */
function serverKind(s: Server): ServerKind {
  const p = s.port.protocol.toUpperCase();
  if (p === "HTTP" || p === "HTTP2" || p === "GRPC" || p === "GRPC-WEB") return "http";
  if (p === "HTTPS") {
    const mode = s.tls?.mode;
    return mode === "PASSTHROUGH" || mode === "AUTO_PASSTHROUGH" ? undefined : "https";
  }
  return undefined;
}

function newListener(): ListenerRoutes {
  return { redirects: new VirtualHostIndex(), vhosts: new VirtualHostIndex(), hosts: new Map() };
}

/**
 * Compiles the gateway snapshot's routes. Bad entries (a regex RE2 refuses,
 * a delegate) are left out one by one and listed in `issues`.
 * @example const table = compileGatewayRoutes(snapshot); planRequest(table, facts)
 */
export function compileGatewayRoutes(snapshot: GatewaySnapshot, options: GatewayRouteOptions = {}): GatewayRouteTable {
  const rootNamespace = options.rootNamespace ?? DEFAULT_ROOT_NAMESPACE;
  const clientNamespace = options.gatewayNamespace ?? rootNamespace;
  const client: ClientSelector = { namespace: clientNamespace };
  if (options.gatewayLabels !== undefined) client.labels = options.gatewayLabels;
  const issues: CompileIssue[] = [];
  const listeners = new Map<number, ListenerRoutes>();
  const byScheme = { http: newListener(), https: newListener() };
  const compiled = new Map<number, VirtualHost>();
  const vhostAt = (i: number): VirtualHost => {
    let v = compiled.get(i);
    if (v === undefined) {
      const h = snapshot.hosts[i]!;
      v = compileVirtualHost(h.host, h.http, client, issues);
      compiled.set(i, v);
    }
    return v;
  };
  for (const gw of snapshot.gateways) {
    const key = `${gw.namespace}/${gw.name}`;
    for (const server of gw.servers) {
      const kind = serverKind(server);
      if (kind === undefined) continue;
      let listener = listeners.get(server.port.number);
      if (listener === undefined) {
        listener = newListener();
        listeners.set(server.port.number, listener);
      }
      const targets = [listener, byScheme[kind]];
      const serverHosts = server.hosts.map((h) => parseGatewayHost(h, gw.namespace).host);
      if (server.tls?.httpsRedirect === true) for (const h of serverHosts) for (const t of targets) t.redirects.add(h, true);
      snapshot.hosts.forEach((h, i) => {
        if (!h.gateways.includes(key) || !serverHosts.some((sh) => hostsOverlap(sh, h.host))) return;
        const v = vhostAt(i);
        for (const t of targets) t.vhosts.add(h.host, v);
      });
    }
  }
  return {
    kind: "gateway",
    issues,
    listeners,
    byScheme,
    scope: { services: snapshot.services, destinationRules: snapshot.destinationRules, clientNamespace, rootNamespace },
    clusters: new Map(),
    hostCache: new Map(),
    lastHost: newLastHost(),
  };
}

/** Names a sidecar accepts for a service host: the FQDN, `name.ns`, `name.ns.svc`, and `name` from its own namespace. */
export function hostAliases(host: string, sourceNamespace: string): string[] {
  const out = [host];
  const parts = host.split(".");
  if (parts.length > 3 && parts[2] === "svc" && !host.startsWith("*")) {
    out.push(`${parts[0]}.${parts[1]}`, `${parts[0]}.${parts[1]}.svc`);
    if (parts[1] === sourceNamespace) out.push(parts[0]!);
  }
  return out;
}

/**
 * Compiles the mesh routes a workload in `sourceNamespace` sees: mesh-bound
 * VirtualServices exported to it (the oldest VS wins a host), and a default
 * route to every visible service no VirtualService host covers.
 */
export function compileMeshRoutes(snapshot: NodeSnapshot, sourceNamespace: string, options: MeshRouteOptions = {}): MeshRouteTable {
  const rootNamespace = options.rootNamespace ?? DEFAULT_ROOT_NAMESPACE;
  const client: ClientSelector = { namespace: sourceNamespace };
  if (options.sourceLabels !== undefined) client.labels = options.sourceLabels;
  const issues: CompileIssue[] = [];
  const vhosts = new VirtualHostIndex<VirtualHost>();
  const vsHosts: string[] = [];
  const taken = new Set<string>();
  for (const table of snapshot.routes) {
    if (!visibleFrom(table.exportTo, sourceNamespace) || taken.has(table.host)) continue;
    taken.add(table.host);
    vsHosts.push(table.host);
    const v = compileVirtualHost(table.host, table.http, client, issues);
    for (const name of hostAliases(table.host, sourceNamespace)) vhosts.add(name, v);
  }
  const services = snapshot.outbound.filter((s) => visibleFrom(s.exportTo, sourceNamespace));
  for (const s of services) {
    if (vsHosts.some((h) => hostMatches(h, s.host))) continue;
    const source = { ...s.source, index: 0 };
    const v = compileVirtualHost(s.host, [{ source, route: { route: [{ destination: { host: s.host } }] }, catchAll: true }], client, issues);
    for (const name of hostAliases(s.host, sourceNamespace)) vhosts.add(name, v);
  }
  const scope: ClusterScope = { services, destinationRules: snapshot.destinationRules, clientNamespace: sourceNamespace, rootNamespace };
  if (options.sourceLabels !== undefined) scope.clientLabels = options.sourceLabels;
  const listener: ListenerRoutes = { redirects: new VirtualHostIndex(), vhosts, hosts: new Map() };
  return { kind: "mesh", sourceNamespace, issues, vhosts, listener, scope, clusters: new Map(), hostCache: new Map(), lastHost: newLastHost() };
}

/**
 * Internal lookup. `view` is created only when the path alone does not
 * decide the route; planRequest passes its own to share the parsed values.
 * The common request costs the one-entry listener and Host checks (a Host that
 * differs from the last one: one memo lookup) and one Map lookup of the raw
 * path, and allocates nothing.
 */
export function findRoute(table: RouteTable, facts: RequestFacts, given?: RequestView): RouteLookup {
  const last = table.lastHost;
  let listener = last.listener;
  if (listener === undefined || last.port !== facts.port || last.scheme !== facts.scheme) {
    listener = table.kind === "gateway" ? (table.listeners.get(facts.port) ?? table.byScheme[facts.scheme]) : table.listener;
    last.port = facts.port;
    last.scheme = facts.scheme;
    last.listener = listener;
    last.authority = null;
  }
  let entry = last.entry;
  if (entry === undefined || last.authority !== facts.authority) {
    entry = hostEntry(table, listener, facts.authority);
    last.authority = facts.authority;
    last.entry = entry;
  }
  if (entry.redirect && facts.scheme === "http") return { kind: "https-redirect", location: httpsRedirectLocation(given ?? new RequestView(facts)) };
  const vhost = entry.vhost;
  if (vhost === undefined) return entry.noHost;
  const hit = vhost.index.lookup(facts, given);
  return hit === undefined ? vhost.noMatch : hit.value.found;
}

/**
 * The route a request takes (first match wins), a Gateway `httpsRedirect`,
 * or no route (404 NR).
 */
export function lookupRoute(table: RouteTable, facts: RequestFacts): RouteLookup {
  return findRoute(table, facts);
}
