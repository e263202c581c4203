/**
 * Where one attempt goes: the upstream URL for an endpoint, and the extra headers an in-cluster
 * hop needs. External ServiceEntry hosts are dialled directly (https when a DestinationRule
 * sets `tls.mode: SIMPLE`); an endpoint placed on a node proxy with a known edge ingress is
 * reached through that node proxy, with the gateway's JWT-SVID.
 */
import type { ForwardPlan, UpstreamEndpoint } from "../../core/routing/index.ts";
import type { NodeIngress } from "../../core/snapshot/snapshot-model.ts";
import { EDGE_SVID_HEADER, EDGE_TARGET_HEADER, type GatewaySvidSource } from "./gateway-svid.ts";

export interface UpstreamTarget {
  url: string;
  /** `upstream_host` of the access log. */
  host: string;
  headers: readonly (readonly [string, string])[];
}

/** The TLS mode at the edge: only DISABLE (plain HTTP) and SIMPLE (TLS origination) can be done with fetch. */
export class UnsupportedUpstreamTlsError extends Error {
  readonly code = "ERR_UPSTREAM_TLS_MODE";
}

function hostPort(address: string, port: number): string {
  return address.includes(":") && !address.startsWith("[") ? `[${address}]:${port}` : `${address}:${port}`;
}

/**
 * Endpoints to balance over. A ServiceEntry with resolution NONE, or DNS without endpoints,
 * forwards to the destination host itself (the runtime's DNS resolves it).
 */
export function endpointsOf(plan: ForwardPlan): readonly UpstreamEndpoint[] {
  const c = plan.cluster;
  if (c.endpoints.length > 0) return c.endpoints;
  const res = c.service?.resolution;
  if (res === "NONE" || ((res === "DNS" || res === "DNS_ROUND_ROBIN") && (c.service?.endpoints.length ?? 0) === 0)) {
    const port = c.port ?? c.service?.ports[0]?.number ?? 80;
    const servicePort = c.service?.ports.find((p) => p.number === port);
    return [{ address: c.host, port: servicePort?.targetPort ?? port, labels: {}, weight: 1 }];
  }
  return [];
}

/**
 * Where an attempt goes. Synchronous for external hosts (the common case, no promise per
 * request); a promise when an in-cluster hop needs the gateway's JWT-SVID.
 */
export function upstreamTarget(
  plan: ForwardPlan,
  ep: UpstreamEndpoint,
  nodeIngress: Readonly<Record<string, NodeIngress>>,
  svids: GatewaySvidSource | undefined,
): UpstreamTarget | Promise<UpstreamTarget> {
  const ingress = ep.placement === undefined ? undefined : nodeIngress[`${ep.placement.cluster}/${ep.placement.node}`];
  if (ingress !== undefined) return inClusterTarget(plan, ep, ingress, svids);
  const mode = plan.cluster.trafficPolicy.tls?.mode ?? "DISABLE";
  if (mode !== "DISABLE" && mode !== "SIMPLE") throw new UnsupportedUpstreamTlsError(`DestinationRule tls.mode ${mode} is not supported at the edge gateway (use SIMPLE or DISABLE)`);
  const scheme = mode === "SIMPLE" ? "https" : "http";
  const host = hostPort(ep.address, ep.port);
  return { url: `${scheme}://${host}${plan.upstreamRequest.path}`, host, headers: NO_HEADERS };
}

const NO_HEADERS: readonly (readonly [string, string])[] = [];

async function inClusterTarget(plan: ForwardPlan, ep: UpstreamEndpoint, ingress: NodeIngress, svids: GatewaySvidSource | undefined): Promise<UpstreamTarget> {
  if (svids === undefined) throw new Error("in-cluster upstream needs the gateway's JWT-SVID, and no SVID source is configured");
  const base = /^https?:\/\//.test(ingress.address) ? ingress.address.replace(/\/+$/, "") : `http://${ingress.address}`;
  const token = await svids.tokenFor(ingress.spiffeId);
  return {
    url: `${base}${plan.upstreamRequest.path}`,
    host: base.replace(/^https?:\/\//, ""),
    headers: [
      [EDGE_SVID_HEADER, token],
      [EDGE_TARGET_HEADER, hostPort(ep.address, ep.port)],
    ],
  };
}
