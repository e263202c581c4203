/**
 * `@request.auth.claims.<name>` pseudo-headers (istio-semantics.md §2.15,
 * §7.10): VirtualService matches on JWT claims validated by
 * RequestAuthentication. Nested claims are `.a.b` (or `.[a.b]` for a key that
 * contains a dot) or, as pilot `jwt.ToRoutingClaim` also accepts, `[a][b]`.
 * A list claim matches when any element matches. A client header of the same
 * name never satisfies a claim match.
 */
export const CLAIM_PREFIX = "@request.auth.claims.";
const CLAIM_ROOT = "@request.auth.claims";

export function isClaimKey(name: string): boolean {
  const lower = name.toLowerCase();
  if (!lower.startsWith(CLAIM_ROOT)) return false;
  const rest = name.slice(CLAIM_ROOT.length);
  return (rest.startsWith(".") && rest.length > 1) || (rest.startsWith("[") && rest.endsWith("]") && rest.length > 2);
}

/** Splits `.a.b` / `.[a.b].c` / `[a][b]` into claim path segments. */
export function claimPath(key: string): string[] {
  const bracketed = key.slice(CLAIM_ROOT.length);
  // Istio's square-bracket form: `[a][b]` -> a, b.
  if (bracketed.startsWith("[")) return bracketed.slice(1, -1).split("][").filter((s) => s !== "");
  const rest = key.slice(CLAIM_PREFIX.length);
  const out: string[] = [];
  let i = 0;
  while (i < rest.length) {
    if (rest[i] === "[") {
      const end = rest.indexOf("]", i);
      if (end < 0) {
        out.push(rest.slice(i + 1));
        break;
      }
      out.push(rest.slice(i + 1, end));
      i = end + 1;
      if (rest[i] === ".") i++;
    } else {
      const dot = rest.indexOf(".", i);
      const end = dot < 0 ? rest.length : dot;
      out.push(rest.slice(i, end));
      i = end + 1;
    }
  }
  return out.filter((s) => s !== "");
}

/** The string values a claim path holds: a scalar gives one, a list each scalar element; absent gives none. */
export function claimValues(claims: Record<string, unknown> | undefined, path: readonly string[]): string[] | undefined {
  if (claims === undefined || path.length === 0) return undefined;
  let cur: unknown = claims;
  for (const seg of path) {
    if (cur === null || typeof cur !== "object" || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[seg];
    if (cur === undefined) return undefined;
  }
  const scalars = Array.isArray(cur) ? cur : [cur];
  const out: string[] = [];
  for (const v of scalars) {
    if (typeof v === "string") out.push(v);
    else if (typeof v === "number" || typeof v === "boolean") out.push(String(v));
  }
  return out;
}
