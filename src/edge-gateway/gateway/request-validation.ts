/**
 * Malformed requests are the client's mistake: 4xx with a message naming what is wrong, never a
 * 5xx. (Most framing errors never reach the gateway: the runtime's HTTP server refuses them.)
 */
import { REPLY, type LocalReply } from "./local-reply.ts";

/** Envoy's default `max_request_headers_kb`. */
export const MAX_REQUEST_HEADERS_BYTES = 60 * 1024;
/** Longest path (with query) the gateway accepts. */
export const MAX_PATH_CHARS = 8192;
const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,32}$/;

export function validateRequest(req: Request, url: URL): LocalReply | undefined {
  if (!METHOD.test(req.method)) return REPLY.badRequest(`invalid method ${JSON.stringify(req.method.slice(0, 40))}`);
  let headerBytes = 0;
  req.headers.forEach((v, k) => (headerBytes += k.length + v.length + 4));
  if (headerBytes > MAX_REQUEST_HEADERS_BYTES) return REPLY.badRequest(`request headers are larger than ${MAX_REQUEST_HEADERS_BYTES} bytes`, 431);
  const raw = url.pathname + url.search;
  if (raw.length > MAX_PATH_CHARS) return REPLY.badRequest(`path is longer than ${MAX_PATH_CHARS} characters`, 414);
  try {
    decodeURIComponent(url.pathname);
  } catch {
    return REPLY.badRequest("path: invalid percent-encoding");
  }
  const host = req.headers.get("host") ?? url.host;
  if (host === "" || /[\s/\\@]/.test(host)) return REPLY.badRequest(`invalid Host header ${JSON.stringify(host.slice(0, 100))}`);
  return undefined;
}
