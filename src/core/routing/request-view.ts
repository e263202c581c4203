/**
 * Per-request values the matchers need, derived lazily once per lookup so a
 * request that matches on the path alone never parses its query string.
 */
import type { RequestFacts } from "./types.ts";

// Fields are `declare`d and assigned in the constructor: ES2022 class fields would be defined
// (Object.defineProperty semantics) by an initializer on every construction, once per lookup.
export class RequestView {
  declare readonly facts: RequestFacts;
  /** Path with the query string (Envoy's `prefix` matches on this). */
  declare readonly fullPath: string;
  /** Path without the query string (`exact` and `regex` match on this). */
  declare readonly path: string;
  /** `?x=1` or "". */
  declare readonly query: string;
  declare private lowerFull: string | undefined;
  declare private lowerPath: string | undefined;
  declare private params: Map<string, string> | undefined;

  constructor(facts: RequestFacts) {
    this.facts = facts;
    const full = facts.path === "" ? "/" : facts.path;
    this.fullPath = full;
    const q = full.indexOf("?");
    this.path = q < 0 ? full : full.slice(0, q);
    this.query = q < 0 ? "" : full.slice(q);
    this.lowerFull = undefined;
    this.lowerPath = undefined;
    this.params = undefined;
  }

  lowerFullPath(): string {
    return (this.lowerFull ??= this.fullPath.toLowerCase());
  }

  lowerPathOnly(): string {
    return (this.lowerPath ??= this.path.toLowerCase());
  }

  /** First value of each query parameter, percent-decoded (Envoy `parseAndDecodeQueryString`; `+` is not a space). */
  queryParam(name: string): string | undefined {
    if (this.params === undefined) this.params = parseQuery(this.query);
    return this.params.get(name);
  }
}

/** `?a=1&b&a=2` -> {a: "1", b: ""}; the first value of a repeated name wins. */
export function parseQuery(query: string): Map<string, string> {
  const out = new Map<string, string>();
  const text = query.startsWith("?") ? query.slice(1) : query;
  if (text === "") return out;
  for (const part of text.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const name = decode(eq < 0 ? part : part.slice(0, eq));
    const value = eq < 0 ? "" : decode(part.slice(eq + 1));
    if (!out.has(name)) out.set(name, value);
  }
  return out;
}

/** `%XX` escapes decoded; `+` stays `+` (Envoy's `PercentEncoding::decode` does no form decoding). */
function decode(s: string): string {
  if (!s.includes("%")) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
