/**
 * HBONE client (Istio ambient): HTTP/2 CONNECT streams, `:authority` = destination
 * workload `address:port`, multiplexed over pooled mutual-TLS 1.3 connections with
 * ALPN `h2`. The client presents the source workload's SVID and accepts the server
 * only if it presents the expected SPIFFE ID under section D of the SPIFFE checklist
 * (Node's default server-identity check ignores URI SANs, so OpenSSL's check is off
 * and `verifyPeerChain` decides, against the peer trust domain's own roots).
 *
 * Pool key: (source identity, expected peer identity, peer proxy address). A pooled
 * connection made with an older SVID of the source, or before the bundle changed,
 * takes no new streams (it drains), so new connections use the new certificate.
 */
import { connect as http2Connect, constants as h2, type ClientHttp2Session, type ClientHttp2Stream } from "node:http2";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import type { Duplex } from "node:stream";
import type { Clock } from "../../core/clock.ts";
import type { HboneConnectOptions, HboneConnector, SvidSource } from "../context.ts";
import { PeerVerificationError } from "../identity/errors.ts";
import { verifyPeerChain, type TrustAnchors } from "../identity/peer-verifier.ts";
import { HboneError } from "./errors.ts";
import { presentedChain } from "./peer-chain.ts";
import { SecureContextCache } from "./secure-contexts.ts";
import { hboneServerName } from "./server-name.ts";

/** What the transport needs from identity: credentials, anchors and the revocation list. */
export type TransportIdentity = Pick<SvidSource, "credentialsFor" | "isRevoked" | "onChange"> & { anchors(): TrustAnchors };

export interface HboneConnectorOptions {
  identity: TransportIdentity;
  clock: Clock;
  /** Streams per pooled connection before another connection is opened (the peer's SETTINGS may lower it). */
  maxStreamsPerConnection?: number;
  /** TCP+TLS+verification budget for a new connection. */
  connectTimeoutMs?: number;
  /** A pooled connection with no stream for this long is closed. */
  idleTimeoutMs?: number;
}

interface Pooled {
  key: string;
  session: ClientHttp2Session;
  serial: string;
  epoch: number;
  streams: number;
  draining: boolean;
  idleTimer?: NodeJS.Timeout;
}

const DEFAULT_MAX_STREAMS = 100;
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
const DEFAULT_IDLE_MS = 60_000;

export class PooledHboneConnector implements HboneConnector {
  private readonly pools = new Map<string, Pooled[]>();
  private readonly dialing = new Map<string, Promise<Pooled>>();
  private readonly contexts = new SecureContextCache();
  /** Bumped when the bundle or revocations change: older connections drain. */
  private epoch = 0;
  private opened = 0;
  private closed = false;
  private readonly unsubscribe: () => void;

  constructor(private readonly o: HboneConnectorOptions) {
    this.unsubscribe = o.identity.onChange((change) => {
      if (change.kind === "bundle" || change.kind === "revocations") this.epoch += 1;
      if (change.kind === "svid" || change.kind === "expired") this.drainSource(change.spiffeId);
      if (change.kind === "revocations") this.dropRevokedPeers();
    });
  }

  async connect(options: HboneConnectOptions): Promise<Duplex> {
    if (this.closed) throw new HboneError("connect-failed", "the HBONE connector is closed");
    if (options.signal?.aborted === true) throw new HboneError("aborted", "aborted before connecting");
    const creds = this.o.identity.credentialsFor(options.source);
    if (creds === undefined) throw new HboneError("no-identity", `no valid SVID for ${options.source} on this node`);
    const key = `${options.source}|${options.expectedPeer}|${options.target.host}:${options.target.port}`;
    const conn = this.available(key, creds.serial) ?? (await this.dialShared(key, options, creds.serial));
    return this.openStream(conn, options);
  }

  private available(key: string, serial: string): Pooled | undefined {
    const pool = this.pools.get(key);
    if (pool === undefined) return undefined;
    for (const c of pool) {
      if (c.draining || c.serial !== serial || c.epoch !== this.epoch || c.session.closed || c.session.destroyed) continue;
      const limit = Math.min(this.o.maxStreamsPerConnection ?? DEFAULT_MAX_STREAMS, c.session.remoteSettings.maxConcurrentStreams ?? DEFAULT_MAX_STREAMS);
      if (c.streams < limit) return c;
    }
    return undefined;
  }

  /** One dial per key at a time: concurrent callers share it. */
  private async dialShared(key: string, options: HboneConnectOptions, serial: string): Promise<Pooled> {
    for (;;) {
      const pending = this.dialing.get(key);
      if (pending === undefined) break;
      const c = await pending.catch(() => undefined);
      const ready = this.available(key, serial);
      if (ready !== undefined) return ready;
      if (c === undefined) break;
    }
    const p = this.dial(key, options);
    this.dialing.set(key, p);
    try {
      return await p;
    } finally {
      if (this.dialing.get(key) === p) this.dialing.delete(key);
    }
  }

  private dial(key: string, options: HboneConnectOptions): Promise<Pooled> {
    const creds = this.o.identity.credentialsFor(options.source);
    if (creds === undefined) return Promise.reject(new HboneError("no-identity", `no valid SVID for ${options.source} on this node`));
    const epoch = this.epoch;
    return new Promise<Pooled>((resolve, reject) => {
      let settled = false;
      const fail = (err: HboneError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        reject(err);
      };
      const socket: TLSSocket = tlsConnect({
        host: options.target.host,
        port: options.target.port,
        servername: hboneServerName(options.expectedPeer),
        ALPNProtocols: ["h2"],
        secureContext: this.contexts.for(creds),
        // OpenSSL's verification is off on purpose: verifyPeerChain below is the check (checklist items 51, 59, 61).
        rejectUnauthorized: false,
        checkServerIdentity: () => undefined,
        minVersion: "TLSv1.3",
        maxVersion: "TLSv1.3",
      });
      const timer = setTimeout(() => fail(new HboneError("connect-failed", `connecting to ${options.target.host}:${options.target.port} timed out`)), this.o.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
      timer.unref();
      socket.once("error", (cause) => fail(new HboneError("connect-failed", `connecting to ${options.target.host}:${options.target.port}: ${cause.message}`, { cause })));
      const onAbort = () => fail(new HboneError("aborted", "aborted while connecting"));
      options.signal?.addEventListener("abort", onAbort, { once: true });
      socket.once("secureConnect", () => {
        options.signal?.removeEventListener("abort", onAbort);
        if (socket.alpnProtocol !== "h2") {
          fail(new HboneError("connect-failed", `the peer at ${options.target.host}:${options.target.port} did not negotiate ALPN h2`));
          return;
        }
        verifyPeerChain({
          chainDer: presentedChain(socket),
          anchors: this.o.identity.anchors(),
          now: this.o.clock.now(),
          peerRole: "server",
          isRevoked: (id) => this.o.identity.isRevoked(id),
          expected: options.expectedPeer,
        }).then(
          () => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            resolve(this.adopt(key, socket, creds.serial, epoch, options));
          },
          (cause: unknown) =>
            fail(
              cause instanceof PeerVerificationError
                ? new HboneError("peer-refused", `server at ${options.target.host}:${options.target.port}: ${cause.message}`, { cause })
                : new HboneError("connect-failed", String(cause), { cause }),
            ),
        );
      });
    });
  }

  private adopt(key: string, socket: TLSSocket, serial: string, epoch: number, options: HboneConnectOptions): Pooled {
    const session = http2Connect(`https://${options.target.host}:${options.target.port}`, {
      createConnection: () => socket,
      settings: { enablePush: false },
      maxSessionMemory: 64,
    });
    const conn: Pooled = { key, session, serial, epoch, streams: 0, draining: false };
    this.opened += 1;
    const remove = () => {
      const pool = this.pools.get(key);
      if (pool === undefined) return;
      const i = pool.indexOf(conn);
      if (i >= 0) pool.splice(i, 1);
      if (pool.length === 0) this.pools.delete(key);
      if (conn.idleTimer !== undefined) clearTimeout(conn.idleTimer);
    };
    session.on("error", () => remove());
    session.on("goaway", () => {
      conn.draining = true;
    });
    session.on("close", remove);
    socket.on("error", () => undefined);
    const pool = this.pools.get(key) ?? [];
    pool.push(conn);
    this.pools.set(key, pool);
    this.armIdle(conn);
    return conn;
  }

  private armIdle(conn: Pooled): void {
    if (conn.idleTimer !== undefined) clearTimeout(conn.idleTimer);
    conn.idleTimer = setTimeout(() => {
      if (conn.streams === 0) conn.session.close();
    }, this.o.idleTimeoutMs ?? DEFAULT_IDLE_MS);
    conn.idleTimer.unref();
  }

  private openStream(conn: Pooled, options: HboneConnectOptions): Promise<Duplex> {
    let stream: ClientHttp2Stream;
    try {
      stream = conn.session.request({ ...(options.headers ?? {}), [h2.HTTP2_HEADER_METHOD]: "CONNECT", [h2.HTTP2_HEADER_AUTHORITY]: options.authority }, { endStream: false });
    } catch (cause) {
      conn.draining = true;
      return Promise.reject(new HboneError("stream-failed", `cannot open a CONNECT stream: ${cause instanceof Error ? cause.message : String(cause)}`, { cause }));
    }
    conn.streams += 1;
    if (conn.idleTimer !== undefined) clearTimeout(conn.idleTimer);
    stream.once("close", () => {
      conn.streams -= 1;
      if (conn.streams === 0) {
        if (conn.draining) conn.session.close();
        else this.armIdle(conn);
      }
    });
    return new Promise<Duplex>((resolve, reject) => {
      const onAbort = () => {
        stream.close(h2.NGHTTP2_CANCEL);
        reject(new HboneError("aborted", "aborted while waiting for the CONNECT answer"));
      };
      options.signal?.addEventListener("abort", onAbort, { once: true });
      const onError = (cause: Error) => {
        options.signal?.removeEventListener("abort", onAbort);
        reject(new HboneError("stream-failed", `CONNECT ${options.authority}: ${cause.message}`, { cause }));
      };
      stream.once("error", onError);
      // A connection the peer drops before answering (a server that refuses the client after the
      // TLS 1.3 handshake completed on the client's side) closes the stream with no 'error'.
      const onEarlyClose = () => {
        options.signal?.removeEventListener("abort", onAbort);
        conn.draining = true;
        reject(new HboneError("stream-failed", `CONNECT ${options.authority}: the connection closed before the peer answered`));
      };
      stream.once("close", onEarlyClose);
      stream.once("response", (headers) => {
        options.signal?.removeEventListener("abort", onAbort);
        stream.off("error", onError);
        stream.off("close", onEarlyClose);
        // Errors after the answer belong to the caller's stream handling; never an unhandled 'error'.
        if (stream.listenerCount("error") === 0) stream.on("error", () => undefined);
        const status = Number(headers[h2.HTTP2_HEADER_STATUS]);
        if (status === 200) {
          resolve(stream);
          return;
        }
        stream.close();
        reject(new HboneError("rejected", `CONNECT ${options.authority}: the peer answered ${status}`, { status }));
      });
    });
  }

  private drainSource(spiffeId: string): void {
    for (const [key, pool] of this.pools) {
      if (!key.startsWith(`${spiffeId}|`)) continue;
      for (const c of pool) this.drain(c);
    }
  }

  private drain(c: Pooled): void {
    c.draining = true;
    if (c.streams === 0) c.session.close();
  }

  /** A peer identity that is revoked now loses its pooled connections at once. */
  private dropRevokedPeers(): void {
    for (const [key, pool] of this.pools) {
      const peer = key.split("|")[1] ?? "";
      if (this.o.identity.isRevoked(peer)) for (const c of [...pool]) c.session.destroy();
    }
  }

  stats(): { connections: number; streams: number; connectionsOpened: number } {
    let connections = 0;
    let streams = 0;
    for (const pool of this.pools.values()) {
      connections += pool.length;
      for (const c of pool) streams += c.streams;
    }
    return { connections, streams, connectionsOpened: this.opened };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe();
    const sessions = [...this.pools.values()].flat().map((c) => c.session);
    await Promise.all(
      sessions.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.closed || s.destroyed) return resolve();
            const t = setTimeout(() => {
              s.destroy();
              resolve();
            }, 2000);
            t.unref();
            s.close(() => {
              clearTimeout(t);
              resolve();
            });
          }),
      ),
    );
    this.pools.clear();
  }
}
