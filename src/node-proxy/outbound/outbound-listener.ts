/**
 * The explicit proxy listener for local workloads (15001): plain HTTP requests (absolute form,
 * or origin form with a Host naming a service) and `CONNECT host:port`. Node's own HTTP parser
 * (llhttp) reads the wire; malformed requests get 400 and an oversized header block 431, then
 * the connection is closed — a bad client never reaches the routing code.
 */
import http from "node:http";
import type { Duplex } from "node:stream";
import type { Socket } from "node:net";
import type { AddressInfo } from "node:net";
import type { ListenAddress } from "../context.ts";

/** Header block limit of the proxy's listeners (bytes); larger blocks are answered 431. */
export const MAX_HEADER_BYTES = 16 * 1024;

export interface HttpListenerHandlers {
  request: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  connect?: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** `Connection: Upgrade` requests; without a handler Node closes such connections. */
  upgrade?: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;
}

/** Answers a parse error the way Envoy does (400, or 431 for a header block over the limit) and closes. */
export function answerClientError(err: Error & { code?: string }, socket: Duplex): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const tooLarge = err.code === "HPE_HEADER_OVERFLOW";
  const status = tooLarge ? "431 Request Header Fields Too Large" : "400 Bad Request";
  const body = tooLarge ? "request header block too large\n" : `malformed HTTP request (${err.code ?? "parse error"})\n`;
  socket.end(`HTTP/1.1 ${status}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

/** Upgraded (WebSocket) connections per server: `closeAllConnections` no longer sees them. */
const upgradedSockets = new WeakMap<http.Server, Set<Duplex>>();

/** An HTTP/1.1 server with the proxy's limits, not yet listening. */
export function createProxyHttpServer(h: HttpListenerHandlers): http.Server {
  const server = http.createServer({ maxHeaderSize: MAX_HEADER_BYTES, keepAliveTimeout: 60_000, requestTimeout: 0, headersTimeout: 30_000 }, h.request);
  if (h.connect !== undefined) server.on("connect", h.connect);
  if (h.upgrade !== undefined) {
    const upgrade = h.upgrade;
    const open = new Set<Duplex>();
    upgradedSockets.set(server, open);
    server.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      open.add(socket);
      socket.once("close", () => open.delete(socket));
      upgrade(req, socket, head);
    });
  }
  server.on("clientError", answerClientError);
  server.on("connection", (s: Socket) => {
    if (typeof s.setNoDelay === "function") s.setNoDelay(true);
  });
  return server;
}

export function listen(server: http.Server, address: ListenAddress): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(address.port, address.host, () => {
      server.off("error", reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

export function closeServer(server: http.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
    for (const s of upgradedSockets.get(server) ?? []) s.destroy();
  });
}
