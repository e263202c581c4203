/**
 * Malformed requests are the client's mistake: 4xx with a message naming what is wrong, never a
 * 5xx. (Most framing errors never reach the gateway: the runtime's HTTP server refuses them.)
 */
import { REPLY, type LocalReply } from "./local-reply.ts";
import { rejectedPathReason } from "../../core/policy/index.ts";

/** Envoy's default `max_request_headers_kb`. */
export const MAX_REQUEST_HEADERS_BYTES = 60 * 1024;
/** Longest path (with query) the gateway accepts. */
export const MAX_PATH_CHARS = 8192;
const METHOD = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,32}$/;
const BAD_HOST = /[\s/\\@]/;
/** Methods that pass `METHOD` (checked first: a Set lookup instead of a regex run per request). */
const COMMON_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]);

/** Size of a header block as the validation counts it: name, value, ": " and CRLF per header. */
export function headerLineBytes(name: string, value: string): number {
  return name.length + value.length + 4;
}

/** The last Host that passed the check: consecutive requests mostly carry the same one (a pure memo). */
let lastGoodHost: string | undefined;

/**
 * Checks one request line and header block. `headerBytes` is the sum of `headerLineBytes` over
 * its headers (the caller already walks them once to build its header map); `host` is its `Host`
 * (or the URL's).
 */
export function validateRequest(method: string, pathname: string, search: string, headerBytes: number, host: string): LocalReply | undefined {
  if (!COMMON_METHODS.has(method) && !METHOD.test(method)) return REPLY.badRequest(`invalid method ${JSON.stringify(method.slice(0, 40))}`);
  if (headerBytes > MAX_REQUEST_HEADERS_BYTES) return REPLY.badRequest(`request headers are larger than ${MAX_REQUEST_HEADERS_BYTES} bytes`, 431);
  if (pathname.length + search.length > MAX_PATH_CHARS) return REPLY.badRequest(`path is longer than ${MAX_PATH_CHARS} characters`, 414);
  // Only a path with escapes can be badly encoded.
  if (pathname.includes("%")) {
    try {
      decodeURIComponent(pathname);
    } catch {
      return REPLY.badRequest("path: invalid percent-encoding");
    }
    const rejected = rejectedPathReason(pathname);
    if (rejected !== undefined) return REPLY.badRequest(`path: ${rejected}`);
  }
  if (host === lastGoodHost) return undefined;
  if (host === "" || BAD_HOST.test(host)) return REPLY.badRequest(`invalid Host header ${JSON.stringify(host.slice(0, 100))}`);
  lastGoodHost = host;
  return undefined;
}
