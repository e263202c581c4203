import { hostMatches } from "../hosts.ts";
import type { StringMatch } from "../kinds/common.ts";
import type { HTTPMatchRequest, L4MatchAttributes, TLSMatchAttributes } from "../kinds/virtual-service.ts";
import { compileRe2 } from "../regex.ts";

/**
 * Whether one route match is at least as broad as another: every request the
 * narrower match selects is also selected by the broader one, so with
 * first-match-wins routing (semantics §2.1) the narrower, later match never fires.
 * Conservative: `true` only when it can be shown from the config alone.
 */

/** True when a string matched by `narrow` is always matched by `broad` (`{}` = present). */
export function stringMatchCovers(broad: StringMatch, narrow: StringMatch | undefined, o: { ignoreCase?: boolean } = {}): boolean {
  if (broad.exact === undefined && broad.prefix === undefined && broad.regex === undefined) return narrow !== undefined;
  if (narrow === undefined) return false;
  const fold = (s: string) => (o.ignoreCase === true ? s.toLowerCase() : s);
  if (broad.exact !== undefined) return narrow.exact !== undefined && fold(narrow.exact) === fold(broad.exact);
  if (broad.prefix !== undefined) {
    const p = fold(broad.prefix);
    if (narrow.exact !== undefined) return fold(narrow.exact).startsWith(p);
    if (narrow.prefix !== undefined) return fold(narrow.prefix).startsWith(p);
    return false;
  }
  const regex = broad.regex!;
  if (narrow.regex !== undefined) return narrow.regex === regex;
  if (narrow.exact !== undefined && o.ignoreCase !== true) return regexMatches(regex, narrow.exact);
  return false;
}

function regexMatches(pattern: string, value: string): boolean {
  try {
    return compileRe2(pattern).test(value);
  } catch {
    return false;
  }
}

/** Every key of `broad` is in `narrow` with a match that `broad`'s covers. */
function mapCovers(broad: Record<string, StringMatch> | undefined, narrow: Record<string, StringMatch> | undefined): boolean {
  return Object.entries(broad ?? {}).every(([k, m]) => stringMatchCovers(m, narrow?.[k]));
}

function labelsCover(broad: Record<string, string> | undefined, narrow: Record<string, string> | undefined): boolean {
  return Object.entries(broad ?? {}).every(([k, v]) => narrow?.[k] === v);
}

/** A gateway list limits a match to those gateways; the narrow one must apply to no gateway the broad one does not. */
function gatewaysCover(broad: readonly string[] | undefined, narrow: readonly string[] | undefined): boolean {
  if (broad === undefined || broad.length === 0) return true;
  return narrow !== undefined && narrow.length > 0 && narrow.every((g) => broad.includes(g));
}

function subnetsCover(broad: readonly string[] | undefined, narrow: readonly string[] | undefined): boolean {
  if (broad === undefined || broad.length === 0) return true;
  return narrow !== undefined && narrow.length > 0 && narrow.every((s) => broad.includes(s));
}

function sameOrUnset<T>(broad: T | undefined, narrow: T | undefined): boolean {
  return broad === undefined || broad === narrow;
}

/** A match naming nothing but itself (name/statPrefix) matches every request. */
export function isCatchAllMatch(m: object): boolean {
  return Object.keys(m).every((k) => k === "name" || k === "statPrefix");
}

/** HTTP: `broad` covers `narrow` (URI with `ignoreUriCase`, scheme, method, authority, headers, query, port, source, gateways). */
export function httpMatchCovers(broad: HTTPMatchRequest, narrow: HTTPMatchRequest): boolean {
  if (broad.uri !== undefined) {
    // A case-insensitive narrow match also takes case variants the case-sensitive broad one refuses.
    if (broad.ignoreUriCase !== true && narrow.ignoreUriCase === true) return false;
    if (!stringMatchCovers(broad.uri, narrow.uri, { ignoreCase: broad.ignoreUriCase === true })) return false;
  }
  for (const k of ["scheme", "method", "authority"] as const) {
    const b = broad[k];
    if (b !== undefined && !stringMatchCovers(b, narrow[k])) return false;
  }
  if (!mapCovers(broad.headers, narrow.headers) || !mapCovers(broad.queryParams, narrow.queryParams)) return false;
  // withoutHeaders: the narrow match must exclude at least what the broad one excludes.
  for (const [k, m] of Object.entries(broad.withoutHeaders ?? {})) {
    const n = narrow.withoutHeaders?.[k];
    if (n === undefined || !stringMatchCovers(n, m)) return false;
  }
  return (
    sameOrUnset(broad.port, narrow.port) &&
    labelsCover(broad.sourceLabels, narrow.sourceLabels) &&
    gatewaysCover(broad.gateways, narrow.gateways) &&
    sameOrUnset(broad.sourceNamespace, narrow.sourceNamespace)
  );
}

/** TCP: destination subnets, port, source subnet and labels, gateways, source namespace. */
export function tcpMatchCovers(broad: L4MatchAttributes, narrow: L4MatchAttributes): boolean {
  return (
    subnetsCover(broad.destinationSubnets, narrow.destinationSubnets) &&
    sameOrUnset(broad.port, narrow.port) &&
    sameOrUnset(broad.sourceSubnet, narrow.sourceSubnet) &&
    labelsCover(broad.sourceLabels, narrow.sourceLabels) &&
    gatewaysCover(broad.gateways, narrow.gateways) &&
    sameOrUnset(broad.sourceNamespace, narrow.sourceNamespace)
  );
}

/** TLS: every SNI host of the narrow match is matched (exactly or by wildcard) by one of the broad match, plus the L4 attributes. */
export function tlsMatchCovers(broad: TLSMatchAttributes, narrow: TLSMatchAttributes): boolean {
  if (!narrow.sniHosts.every((h) => broad.sniHosts.some((b) => hostMatches(b, h)))) return false;
  return (
    subnetsCover(broad.destinationSubnets, narrow.destinationSubnets) &&
    sameOrUnset(broad.port, narrow.port) &&
    labelsCover(broad.sourceLabels, narrow.sourceLabels) &&
    gatewaysCover(broad.gateways, narrow.gateways) &&
    sameOrUnset(broad.sourceNamespace, narrow.sourceNamespace)
  );
}
