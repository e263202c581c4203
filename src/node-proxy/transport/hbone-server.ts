/**
 * HBONE server (port 15008): mutual TLS 1.3 with ALPN `h2`, then HTTP/2 CONNECT streams.
 *
 * The TLS layer presents the destination workload's SVID chosen by SNI, requires a
 * client certificate, and hands the connection to HTTP/2 only after `verifyPeerChain`
 * accepted the client's chain against the bundle of the client's own trust domain
 * and the revocation list; the peer's SPIFFE ID comes from its single URI SAN. No
 * HTTP/2 frame of an unverified peer is ever parsed.
 */
import { createServer as createH2Server, constants as h2, type Http2Server, type ServerHttp2Session, type ServerHttp2Stream, type IncomingHttpHeaders } from "node:http2";
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from "node:tls";
import type { AddressInfo } from "node:net";
import type { Clock } from "../../core/clock.ts";
import type { HboneInboundRequest, HboneServer, HboneServerOptions, ListenAddress, PeerIdentity, ProxyLogger, SvidCredentials } from "../context.ts";
import { PeerVerificationError } from "../identity/errors.ts";
import { verifyPeerChain } from "../identity/peer-verifier.ts";
import type { TransportIdentity } from "./hbone-connector.ts";
import { presentedChain } from "./peer-chain.ts";
import { SecureContextCache } from "./secure-contexts.ts";
import { hboneServerName } from "./server-name.ts";

export interface HboneServerDeps {
  identity: TransportIdentity & { status(): { spiffeId: string }[] };
  clock: Clock;
  logger: ProxyLogger;
  /** Called for each refused TLS peer (metrics, tests). */
  onRefused?(reason: string, error: unknown): void;
  /** HTTP/2 limits. */
  maxConcurrentStreams?: number;
  maxHeaderListSize?: number;
  handshakeTimeoutMs?: number;
}

interface SessionInfo {
  peer: PeerIdentity;
  localIdentity: string;
  remoteAddress: string | undefined;
}

/** `host:port` with a numeric port, as HBONE's `:authority` must be. */
const AUTHORITY = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+):[0-9]{1,5}$/;

export class TlsHboneServer implements HboneServer {
  private readonly tls: TlsServer;
  private readonly h2: Http2Server;
  private readonly contexts = new SecureContextCache();
  private readonly sessions = new Map<ServerHttp2Session, SessionInfo>();
  private readonly sockets = new Set<TLSSocket>();
  private adopting: SessionInfo | undefined;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly deps: HboneServerDeps,
    private readonly options: HboneServerOptions,
  ) {
    this.tls = createTlsServer({
      SNICallback: (servername, cb) => {
        const creds = this.credentialsFor(servername);
        if (creds === undefined) {
          cb(new Error(`no workload SVID for server name ${servername}`));
          return;
        }
        cb(null, this.contexts.for(creds));
      },
      requestCert: true,
      // OpenSSL's verification is off on purpose: verifyPeerChain decides (checklist items 51, 59, 61).
      rejectUnauthorized: false,
      minVersion: "TLSv1.3",
      maxVersion: "TLSv1.3",
      ALPNProtocols: ["h2"],
      handshakeTimeout: deps.handshakeTimeoutMs ?? 10_000,
    });
    this.h2 = createH2Server({
      settings: { maxConcurrentStreams: deps.maxConcurrentStreams ?? 1000, enablePush: false, maxHeaderListSize: deps.maxHeaderListSize ?? 64 * 1024 },
      maxSessionMemory: 64,
    });
    this.tls.on("secureConnection", (socket: TLSSocket) => void this.admit(socket));
    this.tls.on("tlsClientError", (err) => deps.onRefused?.("tls", err));
    this.h2.on("session", (session: ServerHttp2Session) => {
      const info = this.adopting;
      this.adopting = undefined;
      if (info === undefined) {
        session.destroy();
        return;
      }
      this.sessions.set(session, info);
      session.on("close", () => this.sessions.delete(session));
      session.on("error", () => undefined);
    });
    this.h2.on("stream", (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => this.onStream(stream, headers));
    this.unsubscribe = deps.identity.onChange((change) => {
      if (change.kind === "svid" || change.kind === "expired") this.byServerName = undefined;
      if (change.kind === "revocations") this.dropRevokedPeers();
    });
  }

  /** SNI -> SPIFFE ID of the held identities, rebuilt when an identity changes (not per handshake). */
  private byServerName: Map<string, string> | undefined;

  private credentialsFor(servername: string | undefined): SvidCredentials | undefined {
    if (this.options.serverIdentity !== undefined) return this.options.serverIdentity(servername);
    if (servername === undefined) return undefined;
    if (this.byServerName === undefined) {
      this.byServerName = new Map(this.deps.identity.status().map((s) => [hboneServerName(s.spiffeId), s.spiffeId]));
    }
    const id = this.byServerName.get(servername);
    return id === undefined ? undefined : this.deps.identity.credentialsFor(id);
  }

  private async admit(socket: TLSSocket): Promise<void> {
    this.sockets.add(socket);
    socket.on("close", () => this.sockets.delete(socket));
    socket.on("error", () => undefined);
    if (socket.alpnProtocol !== "h2") {
      this.deps.onRefused?.("alpn", new Error(`ALPN ${String(socket.alpnProtocol)} is not h2`));
      socket.destroy();
      return;
    }
    let peer: PeerIdentity;
    try {
      peer = await verifyPeerChain({
        chainDer: presentedChain(socket),
        anchors: this.deps.identity.anchors(),
        now: this.deps.clock.now(),
        peerRole: "client",
        isRevoked: (id) => this.deps.identity.isRevoked(id),
      });
    } catch (err) {
      const reason = err instanceof PeerVerificationError ? err.reason : "error";
      this.deps.logger.warn("HBONE client refused", { reason, error: err instanceof Error ? err.message : String(err), remote: socket.remoteAddress });
      this.deps.onRefused?.(reason, err);
      socket.destroy();
      return;
    }
    if (socket.destroyed) return;
    const servername = (socket as TLSSocket & { servername?: string | false }).servername;
    const local = this.credentialsFor(typeof servername === "string" ? servername : undefined);
    this.adopting = { peer, localIdentity: local?.spiffeId ?? "", remoteAddress: socket.remoteAddress };
    // Synchronous: the 'session' listener takes `adopting` before this returns.
    this.h2.emit("connection", socket);
    this.adopting = undefined;
  }

  private onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    stream.on("error", () => undefined);
    const info = this.sessions.get(stream.session as ServerHttp2Session);
    if (info === undefined) {
      stream.close(h2.NGHTTP2_REFUSED_STREAM);
      return;
    }
    const respondError = (status: number, message?: string) => {
      if (stream.destroyed || stream.closed) return;
      if (!stream.headersSent) stream.respond({ [h2.HTTP2_HEADER_STATUS]: status, "content-type": "text/plain" });
      stream.end(message ?? "");
    };
    if (headers[h2.HTTP2_HEADER_METHOD] !== "CONNECT") {
      respondError(405, "HBONE accepts CONNECT only\n");
      return;
    }
    const authority = headers[h2.HTTP2_HEADER_AUTHORITY];
    if (typeof authority !== "string" || !AUTHORITY.test(authority)) {
      respondError(400, "CONNECT :authority must be <address>:<port>\n");
      return;
    }
    // Revocation can arrive after the handshake: check per stream too.
    if (this.deps.identity.isRevoked(info.peer.spiffeId)) {
      respondError(403, "peer identity is revoked\n");
      return;
    }
    const request: HboneInboundRequest = {
      authority,
      peer: info.peer,
      localIdentity: info.localIdentity,
      headers,
      remoteAddress: info.remoteAddress,
      accept: (extra) => {
        stream.respond({ ...(extra ?? {}), [h2.HTTP2_HEADER_STATUS]: 200 });
        return stream;
      },
      reject: (status, message) => respondError(status, message),
    };
    try {
      this.options.onStream(request);
    } catch (err) {
      this.deps.logger.error("HBONE stream handler failed", { error: err instanceof Error ? err.message : String(err) });
      respondError(503, "stream handler failed\n");
    }
  }

  private dropRevokedPeers(): void {
    for (const [session, info] of this.sessions) {
      if (this.deps.identity.isRevoked(info.peer.spiffeId)) session.destroy();
    }
  }

  listen(address: ListenAddress): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.tls.once("error", reject);
      this.tls.listen(address.port, address.host, () => {
        this.tls.off("error", reject);
        resolve(this.tls.address() as AddressInfo);
      });
    });
  }

  async close(): Promise<void> {
    this.unsubscribe();
    for (const session of this.sessions.keys()) session.close();
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        for (const s of this.sockets) s.destroy();
      }, 2000);
      t.unref();
      this.tls.close(() => {
        clearTimeout(t);
        resolve();
      });
      if (!this.tls.listening) {
        clearTimeout(t);
        resolve();
      }
    });
  }
}

export function createHboneServer(deps: HboneServerDeps, options: HboneServerOptions): HboneServer {
  return new TlsHboneServer(deps, options);
}
