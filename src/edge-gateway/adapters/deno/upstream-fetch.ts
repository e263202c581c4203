/**
 * Outbound HTTP to upstreams and mirrors on Deno, over Deno's `node:http`/`node:https` client, so
 * the request and the answer travel as Envoy's router passes them:
 * - `Host` is the planned authority (the client's, or `rewrite.authority`; a mirror keeps the
 *   original one). Deno's `fetch` drops a Host header unless its client is made with `allowHost`.
 * - Nothing is added to the request: Deno's `fetch` adds `accept-encoding: gzip,br`,
 *   `user-agent: Deno/<version>` and wildcard `accept` and `accept-language` when they are absent.
 * - The answer's body is the upstream's bytes: Deno's `fetch` always decompresses gzip and br
 *   bodies (denoland/deno#12291: no option to turn it off) and keeps `content-encoding` and the
 *   encoded `content-length` (denoland/deno#35124), so a compressed answer passed on would reach
 *   the client as a decoded body under a gzip header and a wrong length. Istio configures no
 *   compressor or decompressor filter: Envoy passes the encoded bytes on.
 * Redirects are never followed (the router returns them as they are). HTTP/1.1, as Istio talks to
 * HTTP upstream ports by default (`h2UpgradePolicy: DO_NOT_UPGRADE`), through keep-alive agents
 * (Node's rule: a server announcing `Keep-Alive: timeout=1` gets a new connection per request).
 * Deno's node:http costs a few tenths of a millisecond per request more than its fetch
 * (docs/edge-gateway.md), the price of passing requests and answers on unchanged.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { Readable } from "node:stream";
import type { GatewayPlatform } from "../../gateway/platform.ts";

/** Statuses whose response has no body (RFC 9110 §6.4.1), and HEAD's. */
const NULL_BODY_STATUS = new Set([204, 205, 304]);

async function bodyBytes(init: RequestInit | undefined, request: Request | undefined): Promise<Uint8Array | undefined> {
  const body = init?.body ?? null;
  if (body !== null) {
    if (body instanceof ArrayBuffer) return new Uint8Array(body);
    if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
    return new Uint8Array(await new Response(body).arrayBuffer());
  }
  if (request !== undefined && request.body !== null) return new Uint8Array(await request.arrayBuffer());
  return undefined;
}

function toResponse(res: IncomingMessage, method: string): Response {
  const headers = new Headers();
  const raw = res.rawHeaders;
  // Appended one by one: each set-cookie stays its own value.
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i]!, raw[i + 1]!);
  const status = res.statusCode ?? 0;
  if (method === "HEAD" || NULL_BODY_STATUS.has(status)) {
    res.resume();
    return new Response(null, { status, statusText: res.statusMessage ?? "", headers });
  }
  return new Response(Readable.toWeb(res) as ReadableStream<Uint8Array>, { status, statusText: res.statusMessage ?? "", headers });
}

/** A `fetch` for upstream requests: sends the headers as given (Host included) and returns the upstream's bytes. */
export function upstreamFetch(): GatewayPlatform["fetch"] {
  const agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };
  return async (input, init) => {
    const request = typeof input === "string" ? undefined : input;
    const url = new URL(request?.url ?? (input as string));
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new TypeError(`upstream URL must be http(s): ${url.protocol}`);
    const method = init?.method ?? request?.method ?? "GET";
    const headers: Record<string, string> = {};
    new Headers(init?.headers ?? request?.headers).forEach((v, k) => {
      headers[k] = v;
    });
    const signal = init?.signal ?? request?.signal ?? undefined;
    const body = await bodyBytes(init, request);
    signal?.throwIfAborted();
    return new Promise<Response>((resolve, reject) => {
      const tls = url.protocol === "https:";
      const req = (tls ? httpsRequest : httpRequest)(url, { method, headers, agent: tls ? agents.https : agents.http }, (res) => {
        try {
          resolve(toResponse(res, method));
        } catch (err) {
          // e.g. a status outside 200-599, which no Response can carry.
          res.destroy();
          reject(err);
        }
      });
      // Aborting (route timeout, per-try timeout, the client going away) ends the exchange, the
      // body stream included, until the answer has been read to its end or dropped. After that the signal
      // is let go: `deno serve` also aborts `request.signal` once a response has been delivered
      // (its legacy behaviour), and by then the keep-alive socket may carry another exchange.
      // The exchange settles here too: on a connection reused from the keep-alive pool, Deno 2's
      // node:http client neither emits `error` nor `close` for a destroyed request (it sends the
      // request again on a new connection, see docs/edge-gateway.md), so waiting for either would
      // leave the attempt pending.
      let done = false;
      const onAbort = () => {
        if (done) return;
        const reason = signal?.reason instanceof Error ? signal.reason : new Error("upstream request aborted");
        req.destroy(reason);
        reject(reason);
      };
      const release = () => {
        done = true;
        signal?.removeEventListener("abort", onAbort);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      // Read to its end, or cancelled (a retried answer): the socket may go back to the pool.
      if (signal !== undefined)
        req.once("response", (res: IncomingMessage) => {
          res.once("end", release);
          res.once("close", release);
        });
      req.once("close", () => {
        signal?.removeEventListener("abort", onAbort);
        // Settles the exchange whatever ended it first (a no-op once the answer arrived).
        reject(new Error("upstream closed the connection before answering"));
      });
      req.on("error", reject);
      req.end(body);
    });
  };
}
