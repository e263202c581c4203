/**
 * Where a destination's node proxy listens, decided from the endpoint alone so that the node
 * proxies and the edge gateway agree without another registry:
 *
 * - host: the WorkloadEntry label `strait.io/node-address` (an IPv4 address or DNS name), else the
 *   endpoint's own address — in Istio ambient the node proxy answers HBONE on the workload's IP,
 *   and on a VM the workload's address is the node's;
 * - HBONE port: label `strait.io/hbone-port`, else the proxy's `hbonePeerPort` setting (15008).
 *
 * Labels, not annotations, because labels are what the node snapshot carries per endpoint (label
 * values cannot hold `:`, so host and port are separate labels). The edge gateway finds a node's
 * edge-ingress listener (15443) from the WorkloadEntry annotation `strait.io/edge-ingress`
 * (`host:port` or URL), compiled into the gateway snapshot's `nodeIngress`.
 */
import type { UpstreamEndpoint } from "../../core/routing/index.ts";

export const NODE_ADDRESS_LABEL = "strait.io/node-address";
export const HBONE_PORT_LABEL = "strait.io/hbone-port";
export const DEFAULT_HBONE_PORT = 15008;

export interface NodeListener {
  host: string;
  port: number;
}

function portLabel(labels: Readonly<Record<string, string>>, name: string, fallback: number): number {
  const raw = labels[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  return Number.isInteger(n) && n > 0 && n < 65536 ? n : fallback;
}

/** The HBONE listener of the node proxy that runs `ep`. */
export function hboneAddressOf(ep: Pick<UpstreamEndpoint, "address" | "labels">, defaultPort = DEFAULT_HBONE_PORT): NodeListener {
  return { host: ep.labels[NODE_ADDRESS_LABEL] ?? ep.address, port: portLabel(ep.labels, HBONE_PORT_LABEL, defaultPort) };
}
