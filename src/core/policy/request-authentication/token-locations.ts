/**
 * Where JWTs are taken from (Envoy `jwt_authn` extractor semantics, which
 * Istio configures from `fromHeaders`, `fromParams`, `fromCookies`):
 * - a rule without any location uses `Authorization: Bearer <token>` and the
 *   `access_token` query parameter;
 * - a header location with a prefix takes the text after the first
 *   occurrence of the prefix (case-sensitive), starting at the first
 *   base64url/dot character; without a prefix, the whole value;
 * - a query parameter gives its first, percent-decoded value;
 * - a cookie gives its value.
 */
import type { JWTRule } from "../../config/kinds/request-authentication.ts";

export type TokenLocation =
  | { kind: "header"; name: string; prefix: string }
  | { kind: "param"; name: string }
  | { kind: "cookie"; name: string };

export interface FoundToken {
  token: string;
  location: TokenLocation;
}

const BEARER = "Bearer ";
const ACCESS_TOKEN = "access_token";

/** The locations a rule reads, in Envoy's extraction order: headers (by name+prefix), params, cookies (each sorted). */
export function locationsOf(rule: JWTRule): TokenLocation[] {
  const headers = new Map<string, TokenLocation>();
  const params = new Map<string, TokenLocation>();
  const cookies = new Map<string, TokenLocation>();
  for (const h of rule.fromHeaders ?? []) {
    const name = h.name.toLowerCase();
    const prefix = h.prefix ?? "";
    headers.set(name + prefix, { kind: "header", name, prefix });
  }
  for (const p of rule.fromParams ?? []) params.set(p, { kind: "param", name: p });
  for (const c of rule.fromCookies ?? []) cookies.set(c, { kind: "cookie", name: c });
  if (headers.size === 0 && params.size === 0 && cookies.size === 0) {
    headers.set("authorization" + BEARER, { kind: "header", name: "authorization", prefix: BEARER });
    params.set(ACCESS_TOKEN, { kind: "param", name: ACCESS_TOKEN });
  }
  const sorted = (m: Map<string, TokenLocation>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
  return [...sorted(headers), ...sorted(params), ...sorted(cookies)];
}

const B64URL_OR_DOT = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";

function afterPrefix(value: string, prefix: string): string | undefined {
  if (prefix === "") return value;
  const at = value.indexOf(prefix);
  if (at < 0) return undefined;
  for (let i = at + prefix.length; i < value.length; i++) {
    if (B64URL_OR_DOT.includes(value[i]!)) return value.slice(i);
  }
  // Envoy keeps the whole value when nothing token-like follows; it then fails to parse (401).
  return value;
}

/** Query parameters of a URL (absolute or path+query), first value per name, percent-decoded. */
export function queryParams(url: string): Map<string, string> {
  const out = new Map<string, string>();
  const q = url.indexOf("?");
  if (q < 0) return out;
  let query = url.slice(q + 1);
  const hash = query.indexOf("#");
  if (hash >= 0) query = query.slice(0, hash);
  for (const part of query.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const rawName = eq < 0 ? part : part.slice(0, eq);
    const rawValue = eq < 0 ? "" : part.slice(eq + 1);
    const name = decode(rawName);
    if (!out.has(name)) out.set(name, decode(rawValue));
  }
  return out;
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function cookies(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (header === undefined) return out;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    if (name !== "" && !out.has(name)) out.set(name, value);
  }
  return out;
}

/** Request views shared by every rule during one authentication. */
export class RequestTokens {
  private params: Map<string, string> | undefined;
  private cookieMap: Map<string, string> | undefined;

  constructor(
    private readonly headers: ReadonlyMap<string, string>,
    private readonly url: string,
  ) {}

  find(locations: readonly TokenLocation[]): FoundToken[] {
    const out: FoundToken[] = [];
    for (const location of locations) {
      let token: string | undefined;
      if (location.kind === "header") {
        const value = this.headers.get(location.name);
        token = value === undefined ? undefined : afterPrefix(value, location.prefix);
      } else if (location.kind === "param") {
        this.params ??= queryParams(this.url);
        token = this.params.get(location.name);
      } else {
        this.cookieMap ??= cookies(this.headers.get("cookie"));
        token = this.cookieMap.get(location.name);
      }
      if (token !== undefined) out.push({ token, location });
    }
    return out;
  }
}

/** `url` without the named query parameters (what the data plane forwards when a token came from `fromParams`). */
export function withoutQueryParams(url: string, names: readonly string[]): string {
  if (names.length === 0) return url;
  const q = url.indexOf("?");
  if (q < 0) return url;
  const hash = url.indexOf("#", q);
  const base = url.slice(0, q);
  const query = url.slice(q + 1, hash < 0 ? undefined : hash);
  const fragment = hash < 0 ? "" : url.slice(hash);
  const drop = new Set(names);
  const kept = query.split("&").filter((part) => {
    if (part === "") return false;
    const eq = part.indexOf("=");
    return !drop.has(decode(eq < 0 ? part : part.slice(0, eq)));
  });
  return (kept.length === 0 ? base : `${base}?${kept.join("&")}`) + fragment;
}
