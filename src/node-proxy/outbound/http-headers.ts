/**
 * Header plumbing shared by the outbound and inbound HTTP paths: hop-by-hop removal (RFC 9110
 * §7.6.1), the lower-cased view routing and policy match on, and a mutable header bag the
 * routing core's header operations write into.
 */
import { randomUUID } from "node:crypto";
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from "node:http";
import type { HeaderSink } from "../../core/routing/index.ts";

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authorization",
  "proxy-authenticate",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
]);

/** Headers as routing and policy see them: lower-case names, repeated values joined with `,`. */
export function headerMap(headers: IncomingHttpHeaders): Map<string, string> {
  const m = new Map<string, string>();
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    m.set(k, Array.isArray(v) ? v.join(",") : v);
  }
  return m;
}

/** A copy of `headers` without hop-by-hop headers (and those the `Connection` header names). */
export function forwardableHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  const conn = headers.connection;
  const named = conn === undefined ? undefined : new Set(String(conn).toLowerCase().split(",").map((s) => s.trim()));
  for (const k in headers) {
    if (HOP_BY_HOP.has(k)) continue;
    const v = headers[k];
    if (v === undefined) continue;
    if (k === "te") {
      // Envoy keeps only the `trailers` token of TE (gRPC needs it), even when Connection names TE.
      if (hasTrailersToken(v)) out.te = "trailers";
      continue;
    }
    if (named?.has(k)) continue;
    // `Expect: 100-continue` travels on: Istio sets proxy_100_continue (ENABLE_100_CONTINUE_HEADERS, on since 1.23).
    out[k] = v;
  }
  return out;
}

function hasTrailersToken(v: string | string[]): boolean {
  const all = Array.isArray(v) ? v.join(",") : v;
  return all.split(",").some((t) => t.split(";")[0]!.trim().toLowerCase() === "trailers");
}

/** Wraps an outgoing header object as a {@link HeaderSink} (names lower-cased). */
export function headerSink(h: OutgoingHttpHeaders): HeaderSink {
  return {
    set(name, value) {
      h[name.toLowerCase()] = value;
    },
    append(name, value) {
      const k = name.toLowerCase();
      const cur = h[k];
      if (cur === undefined) h[k] = value;
      else if (Array.isArray(cur)) cur.push(value);
      else h[k] = [String(cur), value];
    },
    delete(name) {
      delete h[name.toLowerCase()];
    },
  };
}

/** Response headers a proxy passes back (hop-by-hop dropped). */
export function responseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out = forwardableHeaders(headers);
  return out;
}

/**
 * Envoy's connection manager generates `x-request-id` when the request has none (generate_request_id,
 * before routing), so local replies, the access log and the upstream all see one id; a caller's is kept.
 */
export function ensureRequestId(headers: IncomingHttpHeaders): void {
  const id = headers["x-request-id"];
  if (id === undefined || id === "") headers["x-request-id"] = randomUUID();
}
