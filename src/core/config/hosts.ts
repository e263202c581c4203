/**
 * Host name helpers shared by validation, analysis, the snapshot compiler and
 * the matchers. Istio semantics (istio-semantics.md §1, §2.17): short names
 * (no dot) resolve relative to a namespace; `*.example.com` matches any name
 * ending in `.example.com` but not `example.com`; `*` matches everything.
 */

export const DEFAULT_DOMAIN_SUFFIX = "svc.cluster.local";

/**
 * Fully qualifies a host the way Istio does: a name without a dot becomes
 * `<name>.<namespace>.<suffix>`; names with a dot, IPs and `*` stay as they are.
 * @example fqdn("reviews", "default") === "reviews.default.svc.cluster.local"
 */
export function fqdn(host: string, namespace: string, suffix: string = DEFAULT_DOMAIN_SUFFIX): string {
  const h = host.toLowerCase();
  if (h === "" || h === "*" || h.includes(".") || h.includes(":")) return h;
  return `${h}.${namespace}.${suffix}`;
}

/** True for `*` and `*.suffix` names. */
export function isWildcardHost(host: string): boolean {
  return host.startsWith("*");
}

/**
 * True when every name `host` stands for is also matched by `pattern`
 * (case-insensitive). `host` may itself be a wildcard.
 * @example hostMatches("*.example.com", "a.example.com") === true
 * @example hostMatches("*.example.com", "example.com") === false
 */
export function hostMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  const h = host.toLowerCase();
  if (p === "*") return true;
  if (p.startsWith("*")) {
    if (h === "*") return false;
    return h.endsWith(p.slice(1)) && h.length > p.length - 1;
  }
  return p === h;
}

/** True when some name is matched by both `a` and `b`. */
export function hostsOverlap(a: string, b: string): boolean {
  return hostMatches(a, b) || hostMatches(b, a);
}

/**
 * Splits a Gateway server host `[ns/]dnsName`. Without a prefix any namespace
 * may bind (`*`); `.` means the Gateway's own namespace.
 */
export function parseGatewayHost(entry: string, gatewayNamespace: string): { namespace: string; host: string } {
  const slash = entry.indexOf("/");
  if (slash < 0) return { namespace: "*", host: entry };
  const ns = entry.slice(0, slash);
  return { namespace: ns === "." ? gatewayNamespace : ns, host: entry.slice(slash + 1) };
}

/** The reserved gateway name meaning "all sidecars". */
export const MESH_GATEWAY = "mesh";

/**
 * Resolves a VirtualService `gateways[]` entry: `mesh`, `<ns>/<name>` or a bare
 * name in the VS namespace.
 */
export function parseGatewayRef(ref: string, vsNamespace: string): { mesh: true } | { mesh: false; namespace: string; name: string } {
  if (ref === MESH_GATEWAY) return { mesh: true };
  const slash = ref.indexOf("/");
  if (slash < 0) return { mesh: false, namespace: vsNamespace, name: ref };
  return { mesh: false, namespace: ref.slice(0, slash), name: ref.slice(slash + 1) };
}
