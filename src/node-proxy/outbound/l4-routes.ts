/**
 * VirtualService `tls[]` and `tcp[]` routes for CONNECT tunnels (Istio's L4 routing on the
 * outbound side). For the service a CONNECT names:
 *
 * - the VirtualService bound to the mesh for that host and visible to the caller's namespace
 *   (the oldest one wins a host, as for HTTP routes) is looked up;
 * - on a port whose protocol is TLS or HTTPS (or named `tls-`/`https-`), `tls[]` routes are tried
 *   first: a match needs one of `sniHosts` to cover the SNI (Strait does not read the ClientHello:
 *   the CONNECT authority stands in for it, as a client tunnelling TLS names the host it dials);
 * - then `tcp[]` routes (on every port; a route without `match` matches everything);
 * - match attributes: `port` (the service port), `destinationSubnets` (CIDRs against the
 *   service's addresses, or the CONNECT target when it is an IP), `sourceSubnet` (the caller's
 *   address), `sourceLabels`, `sourceNamespace`, `gateways` (only `mesh` applies here);
 * - the first matching route picks one of its destinations by weight; the destination (host
 *   resolved in the VirtualService's namespace, `port`, `subset`) becomes the cluster with its
 *   DestinationRule policy, as for HTTP routes.
 * No VirtualService or no matching route: the service's own cluster on the CONNECT port.
 */
import type { ConfigView } from "../context.ts";
import type { NodeWorkload, Service, MeshRouteTable as SnapshotRouteTable } from "../../core/snapshot/snapshot-model.ts";
import type { L4MatchAttributes, RouteDestination, TLSMatchAttributes } from "../../core/config/kinds/virtual-service.ts";
import type { ResolvedCluster } from "../../core/routing/index.ts";
import { pickWeighted } from "../../core/routing/index.ts";
import { resolveCluster } from "../../core/routing/cluster.ts";
import { fqdn, hostMatches } from "../../core/config/hosts.ts";
import { visibleFrom } from "../../core/snapshot/export-visibility.ts";
import { matchesLabels } from "../../core/snapshot/label-match.ts";
import { cidrContains, parseCidr, parseIp } from "../../core/policy/cidr.ts";
import { meshRoutesFor } from "./http-outbound.ts";
import { tcpCluster } from "./service-lookup.ts";

export interface L4Facts {
  /** Service port the CONNECT names. */
  port: number;
  /** Host of the CONNECT target (stands in for SNI). */
  host: string;
  /** Caller's address. */
  sourceIp?: string;
}

export type L4Route =
  | { kind: "cluster"; cluster: ResolvedCluster; route: string }
  | { kind: "no-cluster"; route: string; reason: string };

/** The mesh route table (raw VirtualService routes) that covers `service` for `namespace`. */
function routeTableFor(view: ConfigView, service: Service, namespace: string): SnapshotRouteTable | undefined {
  return view.derive(`h5:l4-table:${namespace}:${service.host}`, (v) => {
    let wildcard: SnapshotRouteTable | undefined;
    for (const t of v.snapshot.routes) {
      if (!visibleFrom(t.exportTo, namespace)) continue;
      if (t.host === service.host) return t;
      if (wildcard === undefined && t.host.startsWith("*") && hostMatches(t.host, service.host)) wildcard = t;
    }
    return wildcard;
  });
}

function isTlsPort(service: Service, port: number): boolean {
  const p = service.ports.find((x) => x.number === port);
  if (p === undefined) return false;
  const proto = (p.protocol ?? "").toUpperCase();
  const name = (p.name ?? "").toLowerCase();
  return proto === "TLS" || proto === "HTTPS" || name.startsWith("tls-") || name.startsWith("https-") || name === "tls" || name === "https";
}

function inSubnets(subnets: readonly string[], ips: readonly string[]): boolean {
  for (const s of subnets) {
    const cidr = parseCidr(s.includes("/") ? s : s.includes(":") ? `${s}/128` : `${s}/32`);
    if (cidr === undefined) continue;
    for (const ip of ips) {
      const bytes = parseIp(ip);
      if (bytes !== undefined && cidrContains(cidr, bytes)) return true;
    }
  }
  return false;
}

function plainIp(ip: string | undefined): string | undefined {
  return ip?.startsWith("::ffff:") === true ? ip.slice(7) : ip;
}

function l4Matches(m: L4MatchAttributes | TLSMatchAttributes, facts: L4Facts, service: Service, w: NodeWorkload): boolean {
  if (m.port !== undefined && m.port !== facts.port) return false;
  if (m.gateways !== undefined && m.gateways.length > 0 && !m.gateways.includes("mesh")) return false;
  if (m.sourceNamespace !== undefined && m.sourceNamespace !== "" && m.sourceNamespace !== w.namespace) return false;
  if (m.sourceLabels !== undefined && !matchesLabels(m.sourceLabels, w.labels)) return false;
  if (m.destinationSubnets !== undefined && m.destinationSubnets.length > 0) {
    const targets = parseIp(facts.host) !== undefined ? [facts.host] : service.addresses;
    if (!inSubnets(m.destinationSubnets, targets)) return false;
  }
  if ("sourceSubnet" in m && m.sourceSubnet !== undefined && m.sourceSubnet !== "") {
    const src = plainIp(facts.sourceIp);
    if (src === undefined || !inSubnets([m.sourceSubnet], [src])) return false;
  }
  if ("sniHosts" in m) {
    if (!m.sniHosts.some((h) => hostMatches(h.toLowerCase(), facts.host))) return false;
  }
  return true;
}

function chosenCluster(view: ConfigView, w: NodeWorkload, table: SnapshotRouteTable, dests: readonly RouteDestination[], port: number, routeName: string): L4Route {
  const d = pickWeighted(dests, Math.random);
  if (d === undefined) return { kind: "no-cluster", route: routeName, reason: "route has no destination" };
  const host = fqdn(d.destination.host, table.source.namespace).toLowerCase();
  const key = `h5:l4-cluster:${w.namespace}/${w.name}:${host}:${d.destination.subset ?? ""}:${d.destination.port?.number ?? ""}:${port}`;
  const res = view.derive(key, () => resolveCluster(meshRoutesFor(view, w).scope, { ...d.destination, host }, port));
  return res.ok ? { kind: "cluster", cluster: res.cluster, route: routeName } : { kind: "no-cluster", route: routeName, reason: res.reason };
}

/** The cluster a CONNECT to `service:port` from `w` goes to, per the VirtualService's L4 routes. */
export function l4Route(view: ConfigView, service: Service, w: NodeWorkload, facts: L4Facts): L4Route {
  const table = routeTableFor(view, service, w.namespace);
  if (table !== undefined) {
    const name = `${table.source.namespace}/${table.source.name}`;
    if (isTlsPort(service, facts.port)) {
      for (const [i, r] of table.tls.entries()) {
        if (r.route === undefined || r.route.length === 0) continue;
        if (r.match.some((m) => l4Matches(m, facts, service, w))) return chosenCluster(view, w, table, r.route, facts.port, `${name}/tls/${i}`);
      }
    }
    for (const [i, r] of table.tcp.entries()) {
      if (r.route === undefined || r.route.length === 0) continue;
      const match = r.match === undefined || r.match.length === 0 || r.match.some((m) => l4Matches(m, facts, service, w));
      if (match) return chosenCluster(view, w, table, r.route, facts.port, `${name}/tcp/${i}`);
    }
  }
  return { kind: "cluster", cluster: tcpCluster(view, service, facts.port, w), route: "default" };
}
