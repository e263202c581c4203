/**
 * `CONNECT host:port` on the outbound listener: a TCP tunnel to a mesh service. The host must
 * name a service of the node's outbound view and the port one of its ports (anything else is
 * refused with a clear 4xx and the connection closed). The endpoint is picked with the
 * DestinationRule's load balancer, bounded by `connectionPool.tcp.maxConnections` (503 UO) and
 * reached over HBONE (or plain TCP for an endpoint outside the mesh); bytes are then relayed
 * both ways and counted in Istio's TCP metrics.
 */
import net from "node:net";
import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { DataPlaneContext, TcpMetricLabels } from "../context.ts";
import type { ClusterStates } from "../resilience/cluster-state.ts";
import { PoolOverflowError } from "../resilience/circuit-breaker.ts";
import { hboneAddressOf } from "./node-address.ts";
import { HboneError } from "../transport/errors.ts";
import { plainIp, sourceWorkload } from "./source-workload.ts";
import { resolveService } from "./service-lookup.ts";
import { l4Route } from "./l4-routes.ts";
import { UpstreamConnectError, connPolicyOf } from "./pooled-agent.ts";

export interface ConnectDeps {
  ctx: DataPlaneContext;
  clusters: ClusterStates;
}

function refuse(socket: Duplex, status: number, reason: string, message: string, flag?: string): void {
  const body = `${message}\n`;
  const flagLine = flag === undefined ? "" : `x-envoy-response-flags: ${flag}\r\n`;
  socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${flagLine}connection: close\r\n\r\n${body}`);
}

/** `host:port` of a CONNECT request line; IPv6 literals in brackets. */
export function parseConnectTarget(target: string | undefined): { host: string; port: number } | undefined {
  if (target === undefined) return undefined;
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(target);
  if (m === null) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1]!.toLowerCase(), port };
}

/** Relays bytes both ways until either side ends; resolves with the byte counts when both are closed. */
export function relay(a: Duplex, b: Duplex): Promise<{ aToB: number; bToA: number }> {
  let aToB = 0;
  let bToA = 0;
  a.on("data", (c: Buffer) => {
    aToB += c.length;
  });
  b.on("data", (c: Buffer) => {
    bToA += c.length;
  });
  return new Promise((resolve) => {
    let closed = 0;
    const onClose = () => {
      if (++closed === 2) resolve({ aToB, bToA });
    };
    const fail = () => {
      a.destroy();
      b.destroy();
    };
    a.once("close", () => {
      b.destroy();
      onClose();
    });
    b.once("close", () => {
      a.destroy();
      onClose();
    });
    a.on("error", fail);
    b.on("error", fail);
    a.pipe(b);
    b.pipe(a);
  });
}

export function handleConnect(d: ConnectDeps, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  connect(d, req, socket, head).catch((err: unknown) => {
    d.ctx.logger.error("CONNECT failed", { error: err instanceof Error ? err.message : String(err) });
    socket.destroy();
  });
}

async function connect(d: ConnectDeps, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  const { ctx } = d;
  socket.on("error", () => socket.destroy());
  const view = ctx.config.current();
  if (view === undefined) return refuse(socket, 503, "Service Unavailable", "no configuration yet");
  const proxyAuth = req.headers["proxy-authorization"];
  const src = sourceWorkload(view, req.socket.remoteAddress, Array.isArray(proxyAuth) ? proxyAuth[0] : proxyAuth);
  if (src.kind === "unknown") return refuse(socket, 403, "Forbidden", `unknown source workload: ${src.message}`);
  const w = src.workload;
  const target = parseConnectTarget(req.url);
  if (target === undefined) return refuse(socket, 400, "Bad Request", "CONNECT target must be host:port");
  const service = resolveService(view, target.host, w.namespace);
  if (service === undefined) {
    ctx.metrics.count("connect_unknown_host");
    return refuse(socket, 404, "Not Found", `CONNECT refused: ${target.host} is not a service in this node's mesh registry`, "NR");
  }
  if (!service.ports.some((p) => p.number === target.port)) {
    return refuse(socket, 404, "Not Found", `CONNECT refused: ${service.host} has no port ${target.port}`, "NR");
  }
  const routed = l4Route(view, service, w, { port: target.port, host: target.host.replace(/^\[|\]$/g, ""), sourceIp: req.socket.remoteAddress });
  if (routed.kind === "no-cluster") {
    ctx.logger.warn("CONNECT route has no cluster", { route: routed.route, reason: routed.reason });
    return refuse(socket, 503, "Service Unavailable", `no cluster for route ${routed.route}: ${routed.reason}`, "NC");
  }
  const cluster = routed.cluster;
  const rt = d.clusters.of(cluster);
  let closeSlot: () => void;
  try {
    closeSlot = rt.breaker.openConnection();
  } catch (err) {
    if (err instanceof PoolOverflowError) {
      ctx.metrics.count("upstream_overflow", { cluster: cluster.name });
      return refuse(socket, 503, "Service Unavailable", "upstream connection pool overflow", "UO");
    }
    throw err;
  }
  try {
    const ejected = (e: { address: string; port: number }) => rt.outlier?.isEjected(`${e.address}:${e.port}`) === true;
    const ep = rt.lb.pick(cluster.endpoints, { exclude: ejected });
    if (ep === undefined) return refuse(socket, 503, "Service Unavailable", "no healthy upstream", "UH");
    const labels: TcpMetricLabels = {
      reporter: "source",
      source_workload: w.name,
      source_principal: w.spiffeId,
      destination_service: cluster.host,
      destination_principal: ep.spiffeId ?? "unknown",
      response_flags: "-",
      connection_security_policy: ep.placement !== undefined ? "mutual_tls" : "unknown",
    };
    let upstream: Duplex;
    try {
      const opening =
        ep.placement !== undefined && ep.spiffeId !== undefined
          ? ctx.hbone.connector.connect({
              source: w.spiffeId,
              target: hboneAddressOf(ep, ctx.settings.hbonePeerPort),
              authority: `${ep.address}:${ep.port}`,
              expectedPeer: ep.spiffeId,
            })
          : dial(ep.address, ep.port);
      upstream = await withConnectTimeout(opening, connPolicyOf(cluster.trafficPolicy.connectionPool).connectTimeoutMs, `${ep.address}:${ep.port}`);
    } catch (err) {
      rt.lb.release(ep);
      if (err instanceof HboneError && err.failure === "rejected" && err.status === 403) {
        // The destination's proxy refused the connection by AuthorizationPolicy.
        return refuse(socket, 403, "Forbidden", "RBAC: access denied", "RBAC");
      }
      rt.outlier?.record(`${ep.address}:${ep.port}`, { kind: "connect-failure" }, cluster.endpoints.length);
      ctx.logger.warn("CONNECT upstream failed", { upstream: `${ep.address}:${ep.port}`, error: err instanceof Error ? err.message : String(err) });
      return refuse(socket, 503, "Service Unavailable", "upstream connect error", "UF");
    }
    ctx.metrics.tcpOpened(labels);
    socket.write("HTTP/1.1 200 Connection established\r\n\r\n");
    if (head.length > 0) upstream.write(head);
    const started = performance.now();
    const counts = await relay(socket, upstream);
    rt.lb.release(ep);
    ctx.metrics.tcpBytes(labels, counts.aToB, counts.bToA);
    ctx.metrics.tcpClosed(labels);
    ctx.log.log({
      start_time: new Date(ctx.clock.now() - (performance.now() - started)).toISOString(),
      method: "CONNECT",
      protocol: "TCP",
      response_code: 200,
      response_flags: "-",
      bytes_received: counts.aToB,
      bytes_sent: counts.bToA,
      duration: Math.round(performance.now() - started),
      authority: `${target.host}:${target.port}`,
      upstream_host: `${ep.address}:${ep.port}`,
      upstream_cluster: cluster.name,
      route_name: routed.route,
      downstream_remote_address: `${plainIp(req.socket.remoteAddress)}:${req.socket.remotePort ?? 0}`,
      source_principal: w.spiffeId,
      connection_security_policy: labels.connection_security_policy,
      reporter: "source",
    });
  } finally {
    closeSlot();
  }
}

/** `connectionPool.tcp.connectTimeout` for a tunnel's upstream; a late connection is closed. */
function withConnectTimeout(opening: Promise<Duplex>, ms: number, what: string): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    let late = false;
    const timer = setTimeout(() => {
      late = true;
      reject(new UpstreamConnectError(`connecting to ${what} timed out after ${ms} ms (connectionPool.tcp.connectTimeout)`));
    }, ms);
    opening.then(
      (s) => {
        clearTimeout(timer);
        if (late) s.destroy();
        else resolve(s);
      },
      (err: unknown) => {
        clearTimeout(timer);
        if (!late) reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}

function dial(host: string, port: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    s.once("connect", () => {
      s.off("error", reject);
      resolve(s);
    });
    s.once("error", reject);
  });
}
