/**
 * Which of this node's workloads sent a request to the outbound listener. As in ztunnel, the
 * caller is known by its source address. When several workloads of the node share that address
 * (processes on one VM, or loopback in tests), the client names itself in the proxy URL's user
 * part — `HTTP_PROXY=http://<name>.<namespace>@127.0.0.1:15001`, sent as `Proxy-Authorization:
 * Basic` — but only among the workloads at its own address: processes sharing an address are one
 * trust zone, and a name never lets a caller borrow the identity of a workload elsewhere.
 */
import type { ConfigView } from "../context.ts";
import type { NodeWorkload } from "../../core/snapshot/snapshot-model.ts";

export type SourceLookup =
  | { kind: "found"; workload: NodeWorkload }
  | { kind: "unknown"; message: string };

/** `::ffff:127.0.0.1` -> `127.0.0.1`. */
export function plainIp(ip: string | undefined): string {
  if (ip === undefined) return "";
  return ip.startsWith("::ffff:") ? ip.slice(7) : ip;
}

function byAddress(view: ConfigView): ReadonlyMap<string, NodeWorkload[]> {
  return view.derive("h5:workloads-by-ip", (v) => {
    const m = new Map<string, NodeWorkload[]>();
    for (const w of v.snapshot.workloads) {
      if (w.address === undefined) continue;
      const list = m.get(w.address) ?? [];
      list.push(w);
      m.set(w.address, list);
    }
    return m;
  });
}

function proxyUser(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (m === null) return undefined;
  const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return decodeURIComponent(colon < 0 ? decoded : decoded.slice(0, colon));
}

export function sourceWorkload(view: ConfigView, remoteAddress: string | undefined, proxyAuthorization: string | undefined): SourceLookup {
  const ip = plainIp(remoteAddress);
  const candidates = byAddress(view).get(ip) ?? [];
  const user = proxyUser(proxyAuthorization);
  if (user !== undefined) {
    const w = candidates.find((c) => `${c.name}.${c.namespace}` === user);
    return w === undefined
      ? { kind: "unknown", message: `no workload ${user} at ${ip} on this node` }
      : { kind: "found", workload: w };
  }
  if (candidates.length === 1) return { kind: "found", workload: candidates[0]! };
  if (candidates.length === 0) return { kind: "unknown", message: `${ip} is not the address of a workload on this node` };
  return {
    kind: "unknown",
    message: `several workloads of this node use ${ip}; name yours in the proxy URL: http://<name>.<namespace>@<proxy>`,
  };
}
