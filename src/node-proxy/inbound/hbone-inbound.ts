/**
 * HBONE CONNECT streams from H4's server (15008), dispatched to this node's workloads by their
 * `:authority` (`address:port`). The peer is already authenticated (mutual TLS, SPIFFE ID from
 * the client certificate, revocation checked). HTTP ports are parsed as HTTP/1.1 inside the
 * tunnel (policy per request); other ports are authorized once per connection and relayed as TCP
 * — a denied TCP connection is refused (the CONNECT answered 403, so the tunnel closes).
 */
import net from "node:net";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import type { DataPlaneContext, HboneInboundRequest, TcpMetricLabels } from "../context.ts";
import { createProxyHttpServer } from "../outbound/outbound-listener.ts";
import { relay } from "../outbound/connect-tunnel.ts";
import { withBufferWrites } from "../outbound/hbone-agent-pool.ts";
import { local } from "../outbound/http-outbound.ts";
import { plainIp } from "../outbound/source-workload.ts";
import { authorizationFor, type InboundCaller, type InboundHttp } from "./inbound-http.ts";
import { localTargets, type LocalTarget } from "./local-targets.ts";

interface TunnelInfo {
  target: LocalTarget;
  caller: InboundCaller;
}

export class HboneInbound {
  private readonly tunnels = new WeakMap<object, TunnelInfo>();
  private readonly open = new Set<Duplex>();
  readonly server = createProxyHttpServer({ request: (req, res) => this.onRequest(req, res), upgrade: (req, socket, head) => this.onUpgrade(req, socket, head) });

  constructor(
    private readonly ctx: DataPlaneContext,
    private readonly http: InboundHttp,
  ) {}

  onStream = (r: HboneInboundRequest): void => {
    const view = this.ctx.config.current();
    if (view === undefined) return r.reject(503, "no configuration yet");
    const target = localTargets(view).byAuthority.get(r.authority);
    if (target === undefined) {
      this.ctx.metrics.count("hbone_unknown_authority");
      return r.reject(404, `no workload of this node at ${r.authority}`);
    }
    if (r.localIdentity !== target.workload.spiffeId) {
      return r.reject(421, `${r.authority} is ${target.workload.spiffeId}, not ${r.localIdentity}`);
    }
    const caller: InboundCaller = { peer: r.peer, remoteAddress: r.remoteAddress, security: "mutual_tls", listener: "hbone" };
    if (target.protocol === "http") {
      const stream = withBufferWrites(r.accept());
      this.tunnels.set(stream, { target, caller });
      this.track(stream);
      this.server.emit("connection", stream);
      return;
    }
    const decision = authorizationFor(view, target.workloadKey).evaluate({
      source: { principal: r.peer.spiffeId, ip: plainIp(r.remoteAddress) },
      destination: { ip: target.address, port: target.port },
    });
    const labels: TcpMetricLabels = {
      reporter: "destination",
      source_workload: "unknown",
      source_principal: r.peer.spiffeId,
      destination_service: target.service?.host ?? "unknown",
      destination_principal: target.workload.spiffeId,
      response_flags: "-",
      connection_security_policy: "mutual_tls",
    };
    if (!decision.allow) {
      this.ctx.metrics.count("authz_denied", { workload: target.workloadKey, protocol: "tcp", ...(decision.policy ? { policy: decision.policy } : {}) });
      this.ctx.log.log({
        start_time: new Date(this.ctx.clock.now()).toISOString(),
        protocol: "TCP",
        response_code: 0,
        response_flags: "RBAC",
        bytes_received: 0,
        bytes_sent: 0,
        duration: 0,
        authority: r.authority,
        source_principal: r.peer.spiffeId,
        destination_principal: target.workload.spiffeId,
        connection_security_policy: "mutual_tls",
        reporter: "destination",
      });
      return r.reject(403, "RBAC: access denied");
    }
    this.tcp(r, target, labels).catch((err: unknown) => this.ctx.logger.warn("inbound TCP failed", { error: err instanceof Error ? err.message : String(err) }));
  };

  private async tcp(r: HboneInboundRequest, target: LocalTarget, labels: TcpMetricLabels): Promise<void> {
    const upstream = net.connect({ host: target.address, port: target.port });
    const ok = await new Promise<boolean>((resolve) => {
      upstream.once("connect", () => resolve(true));
      upstream.once("error", () => resolve(false));
    });
    if (!ok) return r.reject(503, "upstream connect error");
    const stream = r.accept();
    this.track(stream);
    this.ctx.metrics.tcpOpened(labels);
    const counts = await relay(stream, upstream);
    this.ctx.metrics.tcpBytes(labels, counts.bToA, counts.aToB);
    this.ctx.metrics.tcpClosed(labels);
  }

  private track(stream: Duplex): void {
    this.open.add(stream);
    stream.once("close", () => this.open.delete(stream));
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const info = this.tunnels.get(req.socket);
    const view = this.ctx.config.current();
    if (info === undefined || view === undefined) {
      local(res, 503, "tunnel state lost");
      return;
    }
    this.http.serve(req, res, info.target, info.caller, view);
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const info = this.tunnels.get(req.socket);
    const view = this.ctx.config.current();
    if (info === undefined || view === undefined) {
      socket.destroy();
      return;
    }
    this.http.serveUpgrade(req, socket, head, info.target, info.caller, view);
  }

  close(): void {
    for (const s of this.open) s.destroy();
    this.open.clear();
  }
}
