/**
 * The plaintext inbound listener (15006), for peers without mTLS while PeerAuthentication
 * allows it. A request's Host names a service this node serves (port from Host, else the
 * service's only port); the workload's effective mode for that port decides: STRICT refuses
 * (the connection is closed without an answer, as Envoy resets it), PERMISSIVE and DISABLE
 * accept it with no peer identity (`connection_security_policy="none"`).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { resolvePeerAuthentication } from "../../core/policy/index.ts";
import type { ConfigView, DataPlaneContext } from "../context.ts";
import type { Duplex } from "node:stream";
import { local } from "../outbound/http-outbound.ts";
import { socketReply } from "../outbound/upgrade-relay.ts";
import type { InboundHttp } from "./inbound-http.ts";
import { localTargets, type LocalTarget } from "./local-targets.ts";

/** The local target a Host (service host or `address:port`) names, when this node serves it. */
export function targetForHost(view: ConfigView, host: string | undefined, pinned?: string): LocalTarget | undefined {
  const targets = localTargets(view);
  if (pinned !== undefined) return targets.byAuthority.get(pinned);
  if (host === undefined) return undefined;
  const h = host.toLowerCase();
  const direct = targets.byAuthority.get(h);
  if (direct !== undefined) return direct;
  const m = /^(.*?)(?::(\d+))?$/.exec(h)!;
  const ports = targets.byService.get(m[1]!);
  if (ports === undefined) return undefined;
  const list = m[2] !== undefined ? ports.get(Number(m[2])) : ports.size === 1 ? [...ports.values()][0] : ports.get(80);
  if (list === undefined || list.length === 0) return undefined;
  return list[Math.floor(Math.random() * list.length)];
}

type PlaintextAdmission = { kind: "serve"; view: ConfigView; target: LocalTarget } | { kind: "reply"; status: 503 | 404; message: string } | { kind: "strict" };

export class PlaintextInbound {
  constructor(
    private readonly ctx: DataPlaneContext,
    private readonly http: InboundHttp,
  ) {}

  /** WebSocket handshakes on the plaintext listener, under the same PeerAuthentication check. */
  upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const a = this.admit(req);
    if (a.kind === "reply") return socketReply(socket, a.status, a.message);
    if (a.kind === "strict") {
      socket.destroy();
      return;
    }
    this.http.serveUpgrade(req, socket, head, a.target, { remoteAddress: req.socket.remoteAddress, security: "none", listener: "plaintext" }, a.view);
  };

  handle = (req: IncomingMessage, res: ServerResponse): void => {
    const a = this.admit(req);
    if (a.kind === "reply") return local(res, a.status, a.message, a.status === 404 ? "NR" : undefined);
    if (a.kind === "strict") {
      req.socket.destroy();
      return;
    }
    this.http.serve(req, res, a.target, { remoteAddress: req.socket.remoteAddress, security: "none", listener: "plaintext" }, a.view);
  };

  /**
   * The local target a plaintext request (or handshake) names and whether it may be served: no
   * configuration yet (503), no workload of this node behind its Host (404), or a port whose
   * effective PeerAuthentication mode is STRICT (counted, logged, and the connection closed).
   */
  private admit(req: IncomingMessage): PlaintextAdmission {
    const view = this.ctx.config.current();
    if (view === undefined) return { kind: "reply", status: 503, message: "no configuration yet" };
    const target = targetForHost(view, req.headers.host);
    if (target === undefined) return { kind: "reply", status: 404, message: `no workload of this node serves ${req.headers.host ?? "(no Host)"}` };
    if (resolvePeerAuthentication(view.snapshot.peerAuthentications, target.workloadKey, target.port) === "STRICT") {
      this.ctx.metrics.count("plaintext_refused", { workload: target.workloadKey });
      this.ctx.logger.info("plaintext refused (PeerAuthentication STRICT)", { workload: target.workloadKey, port: target.port });
      return { kind: "strict" };
    }
    return { kind: "serve", view, target };
  }
}
