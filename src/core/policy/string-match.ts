/**
 * Istio's AuthorizationPolicy string matching (pilot `authz/matcher`):
 * `abc` exact, `abc*` prefix, `*abc` suffix, `*` alone "any non-empty value"
 * (regex `.+`). A `*` anywhere else is literal. Nothing here compiles a
 * regular expression from user input.
 */

export type StringPattern =
  | { kind: "exact"; value: string; ignoreCase: boolean }
  | { kind: "prefix"; value: string; ignoreCase: boolean }
  | { kind: "suffix"; value: string; ignoreCase: boolean }
  /** `*`: any non-empty value. */
  | { kind: "nonEmpty" };

/** Compiles one policy value; `ignoreCase` for `hosts`. */
export function stringPattern(v: string, ignoreCase = false): StringPattern {
  if (v === "*") return { kind: "nonEmpty" };
  const fold = (s: string) => (ignoreCase ? s.toLowerCase() : s);
  if (v.startsWith("*")) return { kind: "suffix", value: fold(v.slice(1)), ignoreCase };
  if (v.endsWith("*")) return { kind: "prefix", value: fold(v.slice(0, -1)), ignoreCase };
  return { kind: "exact", value: fold(v), ignoreCase };
}

/** True when `value` (absent = never matches) matches the pattern. */
export function matchString(p: StringPattern, value: string | undefined): boolean {
  if (value === undefined) return false;
  if (p.kind === "nonEmpty") return value.length > 0;
  const v = p.ignoreCase ? value.toLowerCase() : value;
  switch (p.kind) {
    case "exact":
      return v === p.value;
    case "prefix":
      return v.startsWith(p.value);
    case "suffix":
      return v.endsWith(p.value);
  }
}

const SPIFFE = "spiffe://";

/**
 * `principals` / `source.principal`: Istio matches the value with `spiffe://`
 * prepended against the peer's URI SAN (`StringMatcherWithPrefix`); `*` is any
 * non-empty identity and `*abc` becomes `spiffe://.*abc`.
 */
export function principalPattern(v: string): (uri: string | undefined) => boolean {
  if (v === "*") return (uri) => uri !== undefined && uri.length > 0;
  if (v.startsWith("*")) {
    const suffix = v.slice(1);
    return (uri) => uri !== undefined && uri.startsWith(SPIFFE) && uri.length >= SPIFFE.length + suffix.length && uri.endsWith(suffix);
  }
  if (v.endsWith("*")) {
    const prefix = SPIFFE + v.slice(0, -1);
    return (uri) => uri !== undefined && uri.startsWith(prefix);
  }
  const exact = SPIFFE + v;
  return (uri) => uri === exact;
}

/**
 * Glob where only `*` is special (any run of characters); whole-value match.
 * Linear backtracking over the last star: O(pattern × value) at worst.
 */
export function globMatch(pattern: string, value: string): boolean {
  let p = 0;
  let v = 0;
  let star = -1;
  let mark = 0;
  while (v < value.length) {
    if (p < pattern.length && pattern[p] !== "*" && pattern[p] === value[v]) {
      p++;
      v++;
    } else if (p < pattern.length && pattern[p] === "*") {
      star = p++;
      mark = v;
    } else if (star >= 0) {
      p = star + 1;
      v = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern[p] === "*") p++;
  return p === pattern.length;
}

/**
 * `namespaces` / `source.namespace`: Istio's regex `.*\/ns/<ns>/.*` on the peer
 * URI SAN, every `*` in the value becoming `.*`. Requires an mTLS identity.
 */
export function namespacePattern(v: string): (uri: string | undefined) => boolean {
  if (!v.includes("*")) {
    // `.*\/ns/<ns>/.*` without wildcards in <ns> is a substring test.
    const needle = `/ns/${v}/`;
    return (uri) => uri !== undefined && uri.includes(needle);
  }
  const glob = `*/ns/${v}/*`;
  return (uri) => uri !== undefined && globMatch(glob, uri);
}

/**
 * `serviceAccounts` / `source.serviceAccount` (`<ns>/<sa>`, or `<sa>` in the
 * policy's namespace): Istio's `spiffe://.+/ns/<ns>/(.+/|)sa/<sa>(/.+)?`.
 */
export function serviceAccountPattern(v: string, policyNamespace: string): (uri: string | undefined) => boolean {
  const slash = v.indexOf("/");
  const ns = slash < 0 ? policyNamespace : v.slice(0, slash);
  const sa = slash < 0 ? v : v.slice(slash + 1);
  const nsPart = `/ns/${ns}/`;
  const saPart = `sa/${sa}`;
  return (uri) => {
    if (uri === undefined || !uri.startsWith(SPIFFE)) return false;
    for (let i = uri.indexOf(nsPart, SPIFFE.length + 1); i >= 0; i = uri.indexOf(nsPart, i + 1)) {
      const rest = uri.slice(i + nsPart.length);
      for (let j = rest.indexOf(saPart); j >= 0; j = rest.indexOf(saPart, j + 1)) {
        const before = j === 0 || (j >= 2 && rest[j - 1] === "/");
        const after = rest.slice(j + saPart.length);
        if (before && (after === "" || (after.startsWith("/") && after.length > 1))) return true;
      }
    }
    return false;
  };
}

/** Trust domain of a `spiffe://` URI, or undefined. */
export function trustDomainOf(uri: string | undefined): string | undefined {
  if (uri === undefined || !uri.startsWith(SPIFFE)) return undefined;
  const rest = uri.slice(SPIFFE.length);
  const slash = rest.indexOf("/");
  const td = slash < 0 ? rest : rest.slice(0, slash);
  return td === "" ? undefined : td;
}

/** A peer identity as a `spiffe://` URI (policies may carry it with or without the scheme). */
export function principalUri(principal: string | undefined): string | undefined {
  if (principal === undefined || principal === "") return undefined;
  return principal.startsWith(SPIFFE) ? principal : SPIFFE + principal;
}

/**
 * `requestPrincipals` / `request.auth.principal` (`<iss>/<sub>`, split at the
 * last `/` because issuers are URLs), with Istio's wildcard rules: `*` any
 * issuer and subject; `*x/sub` issuer suffix; `iss/x*` subject prefix;
 * `*x` (no `/`) subject suffix with any issuer; `x*` (no `/`) issuer prefix.
 */
export function requestPrincipalPattern(v: string): (iss: string | undefined, sub: string | undefined) => boolean {
  const idx = v.lastIndexOf("/");
  const found = idx >= 0;
  const iss = found ? v.slice(0, idx) : v;
  const sub = found ? v.slice(idx + 1) : "";
  let mi: StringPattern;
  let ms: StringPattern;
  const any: StringPattern = { kind: "nonEmpty" };
  const exact = (s: string): StringPattern => ({ kind: "exact", value: s, ignoreCase: false });
  if (v === "*") {
    mi = any;
    ms = any;
  } else if (v.startsWith("*")) {
    if (found) {
      mi = iss === "*" ? any : { kind: "suffix", value: iss.slice(1), ignoreCase: false };
      ms = exact(sub);
    } else {
      mi = any;
      ms = { kind: "suffix", value: v.slice(1), ignoreCase: false };
    }
  } else if (v.endsWith("*")) {
    if (found) {
      mi = exact(iss);
      ms = sub === "*" ? any : { kind: "prefix", value: sub.slice(0, -1), ignoreCase: false };
    } else {
      mi = { kind: "prefix", value: v.slice(0, -1), ignoreCase: false };
      ms = any;
    }
  } else {
    mi = exact(iss);
    ms = exact(sub);
  }
  return (i, s) => matchString(mi, i) && matchString(ms, s);
}
