/**
 * The consistent-hash input of a request (Envoy hash_policy as Istio
 * configures it from DestinationRule `consistentHash`): a header, a cookie,
 * the source IP or a query parameter. With `httpCookie` and a `ttl`, a
 * request without the cookie gets a generated value that is both hashed now
 * and set on the response, so the client sticks from then on; without a
 * `ttl` nothing is generated and the pick is random.
 */
import type { ConsistentHashLB } from "../../config/kinds/destination-rule.ts";
import { parseDurationMs } from "../../config/duration.ts";
import type { RequestView } from "../request-view.ts";
import type { CookieToSet } from "../types.ts";

/** Value of cookie `name` in a `Cookie` header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function hex32(n: number): string {
  return (n >>> 0).toString(16).padStart(8, "0");
}

export function hashInput(ch: ConsistentHashLB, view: RequestView, rng: () => number): { key?: string; setCookie?: CookieToSet } {
  const facts = view.facts;
  if (ch.httpHeaderName !== undefined) {
    const v = facts.headers.get(ch.httpHeaderName.toLowerCase());
    return v === undefined ? {} : { key: v };
  }
  if (ch.httpCookie !== undefined) {
    const c = ch.httpCookie;
    const v = cookieValue(facts.headers.get("cookie"), c.name);
    if (v !== undefined) return { key: v };
    if (c.ttl === undefined) return {};
    const ms = parseDurationMs(c.ttl) ?? 0;
    const value = hex32(rng() * 0x100000000) + hex32(rng() * 0x100000000);
    const setCookie: CookieToSet = { name: c.name, value, maxAgeSeconds: Math.floor(ms / 1000), attributes: c.attributes ?? [] };
    if (c.path !== undefined) setCookie.path = c.path;
    return { key: value, setCookie };
  }
  if (ch.useSourceIp === true) return facts.sourceIp === undefined ? {} : { key: facts.sourceIp };
  if (ch.httpQueryParameterName !== undefined) {
    const v = view.queryParam(ch.httpQueryParameterName);
    return v === undefined ? {} : { key: v };
  }
  return {};
}

/** `Set-Cookie` value for a generated sticky cookie (`Max-Age=0` is omitted: a session cookie). */
export function setCookieHeader(c: CookieToSet): string {
  let out = `${c.name}=${c.value}`;
  if (c.path !== undefined) out += `; Path=${c.path}`;
  if (c.maxAgeSeconds > 0) out += `; Max-Age=${c.maxAgeSeconds}`;
  out += "; HttpOnly";
  for (const a of c.attributes) out += a.value === undefined ? `; ${a.name}` : `; ${a.name}=${a.value}`;
  return out;
}
