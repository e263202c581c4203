/**
 * This node's workloads as inbound traffic addresses them: by `address:port` (the HBONE
 * `:authority`), and by service host (plaintext and edge-ingress requests name a service).
 * Built once per config view. A port's protocol comes from the service port (`protocol`, else
 * the Istio name prefix `http-`/`grpc-`/...); unknown ports are treated as TCP.
 */
import type { ConfigView } from "../context.ts";
import type { NodeWorkload, Service } from "../../core/snapshot/snapshot-model.ts";
import type { ServicePort } from "../../core/config/kinds/service-entry.ts";

export interface LocalTarget {
  workload: NodeWorkload;
  /** `<namespace>/<name>`, the key policies use. */
  workloadKey: string;
  address: string;
  /** Workload (container) port. */
  port: number;
  service?: Service;
  servicePort?: number;
  protocol: "http" | "tcp";
}

const HTTP_PROTOCOLS = new Set(["HTTP", "HTTP2", "GRPC", "GRPC-WEB"]);

export function portProtocol(p: ServicePort | undefined): "http" | "tcp" {
  if (p === undefined) return "tcp";
  if (p.protocol !== undefined) return HTTP_PROTOCOLS.has(p.protocol.toUpperCase()) ? "http" : "tcp";
  const prefix = (p.name ?? "").split("-")[0]!.toLowerCase();
  return prefix === "http" || prefix === "http2" || prefix === "grpc" || prefix === "grpc-web" ? "http" : "tcp";
}

export interface LocalTargets {
  byAuthority: ReadonlyMap<string, LocalTarget>;
  /** Service host -> service port -> the local targets serving it. */
  byService: ReadonlyMap<string, ReadonlyMap<number, readonly LocalTarget[]>>;
}

export function localTargets(view: ConfigView): LocalTargets {
  return view.derive("h5:local-targets", (v) => {
    const snap = v.snapshot;
    const byKey = new Map(snap.workloads.map((w) => [`${w.namespace}/${w.name}`, w]));
    const byAuthority = new Map<string, LocalTarget>();
    const byService = new Map<string, Map<number, LocalTarget[]>>();
    for (const s of snap.inbound) {
      for (const ep of s.endpoints) {
        if (ep.workload === undefined || ep.address === undefined) continue;
        const w = byKey.get(ep.workload);
        if (w === undefined) continue;
        for (const sp of s.ports) {
          const port = ep.ports[String(sp.number)] ?? sp.number;
          const t: LocalTarget = { workload: w, workloadKey: ep.workload, address: ep.address, port, service: s, servicePort: sp.number, protocol: portProtocol(sp) };
          const key = `${ep.address}:${port}`;
          if (!byAuthority.has(key)) byAuthority.set(key, t);
          const ports = byService.get(s.host) ?? new Map<number, LocalTarget[]>();
          ports.set(sp.number, [...(ports.get(sp.number) ?? []), t]);
          byService.set(s.host, ports);
        }
      }
    }
    // Workload ports no service names: reachable by address:port, as TCP.
    for (const w of snap.workloads) {
      if (w.address === undefined) continue;
      for (const port of Object.values(w.ports)) {
        const key = `${w.address}:${port}`;
        if (!byAuthority.has(key)) byAuthority.set(key, { workload: w, workloadKey: `${w.namespace}/${w.name}`, address: w.address, port, protocol: "tcp" });
      }
    }
    return { byAuthority, byService };
  });
}
