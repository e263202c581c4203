/**
 * HTTP/1.1 upgrades (WebSocket) through the proxy, shared by the outbound and inbound sides:
 * Istio allows `websocket` upgrades on every connection manager (`upgrade_configs`), so the
 * handshake is forwarded with its `Connection: Upgrade` / `Upgrade` headers, the upstream's `101`
 * goes back to the client and the two sockets are then relayed byte for byte. Any other upgrade
 * protocol is refused `403` as Envoy refuses an upgrade it is not configured for.
 */
import type { ClientRequest, IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import type { Duplex } from "node:stream";
import { bodyFailureFlag } from "./body-failure.ts";
import { responseHeaders } from "./http-headers.ts";

/** True for the upgrade protocols the mesh proxies (Istio configures `websocket` only). */
export function isWebSocketUpgrade(headers: IncomingHttpHeaders): boolean {
  const u = headers.upgrade;
  return typeof u === "string" && u.trim().toLowerCase() === "websocket";
}

/** The handshake headers to send upstream on top of the forwardable ones (hop-by-hop by nature). */
export function withUpgradeHeaders(headers: OutgoingHttpHeaders, incoming: IncomingHttpHeaders): OutgoingHttpHeaders {
  headers.connection = "Upgrade";
  headers.upgrade = incoming.upgrade ?? "websocket";
  return headers;
}

function head(status: number, message: string, headers: OutgoingHttpHeaders): Buffer {
  const lines = [`HTTP/1.1 ${status} ${message}`];
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${String(one)}`);
  }
  return Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1");
}

/** 204 and 304 carry neither a body nor (204) a Content-Length (RFC 9110 §6.4.1, §8.6; Envoy's codec drops both). */
export function bodylessStatus(status: number): boolean {
  return status === 204 || status === 304;
}

/** A local text answer on a socket whose request asked for an upgrade; the connection is closed after it. */
export function socketReply(socket: Duplex, status: number, message: string, headers: OutgoingHttpHeaders = {}): void {
  socketSend(socket, status, { ...headers, "content-type": "text/plain" }, Buffer.from(`${message}\n`));
}

/**
 * A local answer (these headers and exactly this body) on a socket whose request asked for an
 * upgrade, with its Content-Length; the connection is closed after it.
 */
export function socketSend(socket: Duplex, status: number, headers: OutgoingHttpHeaders, body: Buffer): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const reason = status === 101 ? "Switching Protocols" : "";
  const bodyless = bodylessStatus(status);
  const length = bodyless ? {} : { "content-length": String(body.length) };
  socket.end(Buffer.concat([head(status, reason, { ...headers, ...length, connection: "close" }), bodyless ? Buffer.alloc(0) : body]));
}

export interface UpgradeResult {
  /** 101 when the protocols were switched, else the upstream's status (or the local one). */
  code: number;
  flags: string;
  bytesSent: number;
  bytesReceived: number;
}

/**
 * Sends the handshake `up` (not yet ended) and relays: a `101` switches both sides to a byte
 * relay until either closes; any other answer is passed back and the client connection closed.
 * `responseOps` run on the head going back (the route's response header ops). Never rejects.
 */
export function relayUpgrade(client: Duplex, clientHead: Buffer, up: ClientRequest, responseOps?: (h: OutgoingHttpHeaders) => void): Promise<UpgradeResult> {
  return new Promise((resolve) => {
    let settled = false;
    let sent = 0;
    let received = 0;
    const finish = (code: number, flags: string) => {
      if (settled) return;
      settled = true;
      resolve({ code, flags, bytesSent: sent, bytesReceived: received });
    };
    client.on("error", () => client.destroy());
    const onClientGone = () => {
      up.destroy();
      finish(0, "DC");
    };
    client.once("close", onClientGone);
    up.on("upgrade", (res, upSocket: Duplex, upHead: Buffer) => {
      client.off("close", onClientGone);
      const h = responseHeaders(res.headers);
      responseOps?.(h);
      h.connection = "Upgrade";
      if (res.headers.upgrade !== undefined) h.upgrade = res.headers.upgrade;
      client.write(head(101, "Switching Protocols", h));
      if (upHead.length > 0) client.write(upHead);
      if (clientHead.length > 0) upSocket.write(clientHead);
      upSocket.on("data", (d: Buffer) => {
        sent += d.length;
      });
      client.on("data", (d: Buffer) => {
        received += d.length;
      });
      upSocket.pipe(client);
      client.pipe(upSocket);
      upSocket.on("error", () => upSocket.destroy());
      const close = () => {
        upSocket.destroy();
        client.destroy();
        finish(101, "-");
      };
      // The listeners run with allowHalfOpen: an upgraded connection ends when either side ends.
      upSocket.once("close", close);
      client.once("close", close);
      upSocket.once("end", close);
      client.once("end", close);
    });
    // Set once a head went back to the client: a later failure ends the relay, it is not answered.
    let answered = false;
    let requestError: unknown;
    up.on("response", (res) => {
      // The upstream declined the upgrade: its answer goes back as is, then the connection closes.
      answered = true;
      const h = responseHeaders(res.headers);
      responseOps?.(h);
      h.connection = "close";
      const code = res.statusCode ?? 502;
      client.write(head(code, res.statusMessage ?? "", h));
      res.on("data", (d: Buffer) => {
        sent += d.length;
      });
      res.pipe(client);
      res.once("end", () => finish(code, "-"));
      res.once("error", () => {
        client.destroy();
        finish(code, bodyFailureFlag(requestError));
      });
    });
    up.on("error", (err) => {
      requestError = err;
      if (answered) return; // the answer's body failed: its own error (above) ends the relay
      if (!settled) socketReply(client, 503, "upstream connect error or disconnect/reset before headers. reset reason: connection failure", { "x-envoy-response-flags": "UF" });
      finish(503, "UF");
    });
    up.end();
  });
}
