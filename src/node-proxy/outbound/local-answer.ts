/**
 * Where the outbound proxy's own answers go: the ServerResponse of a request, or the raw socket of
 * an upgrade (WebSocket) handshake, which is closed after the answer. The router's local replies
 * (no route, no cluster, redirect, direct response, CORS preflight) are decided once, in
 * `routerAnswer` (http-outbound.ts), and written through either.
 */
import type { OutgoingHttpHeaders, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { applyHeaderOps, type HeaderOp } from "../../core/routing/index.ts";
import { headerSink } from "./http-headers.ts";
import { bodylessStatus, socketSend } from "./upgrade-relay.ts";

export interface LocalAnswer {
  /**
   * Sends the status, these headers and exactly this body with its Content-Length; a 204 or 304
   * goes without body and without Content-Length (RFC 9110 §6.4.1, §8.6; Envoy's codec drops both).
   */
  send(status: number, headers: OutgoingHttpHeaders, body?: Buffer): void;
}

const EMPTY = Buffer.alloc(0);

export function responseAnswer(res: ServerResponse): LocalAnswer {
  return {
    send(status, headers, body = EMPTY) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (bodylessStatus(status)) {
        res.writeHead(status, headers).end();
        return;
      }
      res.writeHead(status, { ...headers, "content-length": String(body.length) }).end(body);
    },
  };
}

export function socketAnswer(socket: Duplex): LocalAnswer {
  return {
    send(status, headers, body = EMPTY) {
      socketSend(socket, status, headers, body);
    },
  };
}

/**
 * A locally generated text answer (no upstream involved), with Envoy's response flag header. Once
 * a route is selected, pass its `responseHeaderOps`: Envoy's filter manager applies the route's
 * response headers to every local reply (`sendLocalReplyViaFilterChain`).
 */
export function textAnswer(answer: LocalAnswer, status: number, message: string, flag?: string, routeOps?: readonly HeaderOp[]): void {
  const h: OutgoingHttpHeaders = { "content-type": "text/plain" };
  if (flag !== undefined) h["x-envoy-response-flags"] = flag;
  if (routeOps !== undefined && routeOps.length > 0) applyHeaderOps(headerSink(h), routeOps);
  answer.send(status, h, Buffer.from(`${message}\n`));
}
