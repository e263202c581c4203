/** JWT claim handling shared by RequestAuthentication outputs and AuthorizationPolicy inputs. */

/** Claims Istio always treats as space-delimited lists (`scope`, `permission`), plus a rule's `spaceDelimitedClaims`. */
export const DEFAULT_SPACE_DELIMITED_CLAIMS: readonly string[] = ["permission", "scope"];

/**
 * The payload as policies see it (Envoy `normalize_payload_in_metadata`):
 * listed top-level string claims split on spaces into lists.
 */
export function normalizeClaims(payload: Readonly<Record<string, unknown>>, spaceDelimited: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = { ...payload };
  for (const name of spaceDelimited) {
    const v = out[name];
    if (typeof v === "string") out[name] = v.split(" ").filter((s) => s !== "");
  }
  return out;
}

/** A claim by name; `a.b` walks nested objects (Envoy `StructUtils::GetValue`). */
export function claimByPath(payload: Readonly<Record<string, unknown>>, name: string): unknown {
  let cur: unknown = payload;
  for (const key of name.split(".")) {
    if (cur === null || typeof cur !== "object" || Array.isArray(cur)) return undefined;
    if (!Object.prototype.hasOwnProperty.call(cur, key)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

/** Envoy formats non-integral or negative numbers with C++ `std::to_string(double)`: six decimals. */
function formatNumber(n: number): string {
  if (n >= 0 && Number.isInteger(n) && n < 2 ** 64) return BigInt(n).toString();
  return n.toFixed(6);
}

/**
 * The header value for `outputClaimToHeaders`: strings as they are, numbers
 * and booleans formatted as Envoy does; lists, objects and empty strings give
 * no header.
 */
export function claimHeaderValue(value: unknown): string | undefined {
  if (typeof value === "string") return value === "" ? undefined : value;
  if (typeof value === "number" && Number.isFinite(value)) return formatNumber(value);
  if (typeof value === "boolean") return value ? "true" : "false";
  return undefined;
}
