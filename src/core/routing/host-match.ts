/**
 * Host matching shared by both data planes. The port in `Host` is ignored
 * (istio-semantics.md §7.7: `foo.example.com:12345` matches `*.example.com`);
 * names compare case-insensitively; `*.example.com` matches any name ending in
 * `.example.com` but not `example.com`; `*` matches everything.
 */
import { hostMatches } from "../config/hosts.ts";

/**
 * The host part of an authority: lowercase, port removed, IPv6 brackets kept.
 * @example stripPort("Shop.Example.com:8443") === "shop.example.com"
 */
export function stripPort(authority: string): string {
  // One scan decides whether anything must change; the common case (lowercase, no port) allocates nothing.
  let colon = -1;
  let colons = 0;
  let upper = false;
  for (let i = 0; i < authority.length; i++) {
    const c = authority.charCodeAt(i);
    if (c === 58) {
      colon = i;
      colons++;
    } else if (c >= 65 && c <= 90) upper = true;
    else if (c > 127) upper = true;
  }
  const a = upper ? authority.toLowerCase() : authority;
  if (colon < 0) return a;
  if (a.startsWith("[")) {
    const end = a.indexOf("]");
    return end < 0 ? a : a.slice(0, end + 1);
  }
  // More than one colon without brackets: a bare IPv6 address, no port.
  if (colons > 1) return a;
  return a.slice(0, colon);
}

/** The port of an authority, when it carries one. */
export function authorityPort(authority: string): number | undefined {
  const close = authority.lastIndexOf("]");
  const colon = authority.lastIndexOf(":");
  if (colon < 0 || colon < close) return undefined;
  if (close < 0 && authority.indexOf(":") !== colon) return undefined;
  const n = Number(authority.slice(colon + 1));
  return Number.isInteger(n) && n > 0 && n < 65536 ? n : undefined;
}

/**
 * True when `pattern` (a server or VirtualService host, maybe a wildcard)
 * matches the host of `authority`; the port is ignored.
 * @example hostMatchesPattern("*.example.com", "a.example.com:12345") === true
 */
export function hostMatchesPattern(pattern: string, authority: string): boolean {
  const h = stripPort(authority);
  if (h === "") return pattern === "*";
  return hostMatches(pattern, h);
}

/**
 * Envoy virtual host selection over a set of domains: an exact name first,
 * then the longest matching `*.suffix` wildcard, then `*`.
 */
export class VirtualHostIndex<T> {
  private readonly exact = new Map<string, T>();
  /** Wildcard suffixes (with the leading dot), longest first. */
  private readonly wildcards: { suffix: string; value: T }[] = [];
  private any: T | undefined;
  private count = 0;

  /** True when nothing was added. */
  get empty(): boolean {
    return this.count === 0;
  }

  /** First value registered under a name wins. */
  add(host: string, value: T): void {
    this.count++;
    const h = host.toLowerCase();
    if (h === "*") {
      this.any ??= value;
    } else if (h.startsWith("*")) {
      const suffix = h.slice(1);
      if (!this.wildcards.some((w) => w.suffix === suffix)) {
        this.wildcards.push({ suffix, value });
        this.wildcards.sort((a, b) => b.suffix.length - a.suffix.length);
      }
    } else if (!this.exact.has(h)) {
      this.exact.set(h, value);
    }
  }

  /** The value for the host of `authority` (port ignored), or `undefined`. */
  lookup(authority: string): T | undefined {
    return this.lookupHost(stripPort(authority));
  }

  /** Like `lookup` for a host already lowercased and without a port. */
  lookupHost(h: string): T | undefined {
    const hit = this.exact.get(h);
    if (hit !== undefined) return hit;
    for (const w of this.wildcards) if (h.length > w.suffix.length && h.endsWith(w.suffix)) return w.value;
    return this.any;
  }
}

/** Convenience for a one-off lookup over `[host, value]` pairs. */
export function virtualHostLookup<T>(entries: Iterable<readonly [string, T]>, authority: string): T | undefined {
  const idx = new VirtualHostIndex<T>();
  for (const [h, v] of entries) idx.add(h, v);
  return idx.lookup(authority);
}
