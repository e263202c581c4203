/**
 * One `HTTPMatchRequest` compiled into predicates. Fields within an entry
 * are ANDed; the route table ORs entries and keeps first-match order.
 * The `uri` condition is exposed separately so the table can index exact
 * paths and prefixes instead of testing every route.
 */
import type { HTTPMatchRequest } from "../config/kinds/virtual-service.ts";
import type { StringMatch } from "../config/kinds/common.ts";
import { compileStringMatch, isPresenceMatch, type CompiledStringMatch } from "./string-match.ts";
import { claimPath, claimValues, isClaimKey } from "./claims.ts";
import type { RequestView } from "./request-view.ts";

export type ViewPredicate = (view: RequestView) => boolean;

/** How the uri of an entry is indexed. */
export type UriKey =
  | { kind: "exact"; value: string; ignoreCase: boolean }
  | { kind: "prefix"; value: string; ignoreCase: boolean }
  | { kind: "none" };

export interface CompiledMatch {
  uriKey: UriKey;
  /** Conditions other than an indexed uri (a regex uri lands here). */
  conditions: ViewPredicate[];
}

/** Compiles a match entry; throws `RegexCompileError` naming the field of a bad regex. */
export function compileMatch(m: HTTPMatchRequest | undefined, field: string): CompiledMatch {
  const conditions: ViewPredicate[] = [];
  let uriKey: UriKey = { kind: "none" };
  if (m === undefined) return { uriKey, conditions };
  const ci = m.ignoreUriCase === true;
  if (m.uri !== undefined) {
    if (m.uri.exact !== undefined) uriKey = { kind: "exact", value: ci ? m.uri.exact.toLowerCase() : m.uri.exact, ignoreCase: ci };
    else if (m.uri.prefix !== undefined) uriKey = { kind: "prefix", value: ci ? m.uri.prefix.toLowerCase() : m.uri.prefix, ignoreCase: ci };
    else if (m.uri.regex !== undefined) {
      // Envoy safe_regex on the path without the query string; ignoreUriCase does not apply to regex.
      const re = compileStringMatch(m.uri, `${field}.uri`);
      conditions.push((v) => re.test(v.path));
    }
  }
  if (m.scheme !== undefined) conditions.push(pseudo(m.scheme, `${field}.scheme`, (v) => v.facts.scheme));
  if (m.method !== undefined) conditions.push(pseudo(m.method, `${field}.method`, (v) => v.facts.method));
  if (m.authority !== undefined) conditions.push(pseudo(m.authority, `${field}.authority`, (v) => v.facts.authority));
  if (m.port !== undefined) {
    const port = m.port;
    conditions.push((v) => v.facts.port === port);
  }
  for (const [name, sm] of Object.entries(m.headers ?? {})) conditions.push(headerCondition(name, sm, `${field}.headers.${name}`, false));
  for (const [name, sm] of Object.entries(m.withoutHeaders ?? {})) conditions.push(headerCondition(name, sm, `${field}.withoutHeaders.${name}`, true));
  for (const [name, sm] of Object.entries(m.queryParams ?? {})) conditions.push(queryCondition(name, sm, `${field}.queryParams.${name}`));
  return { uriKey, conditions };
}

/** Tests the uri part of an entry (used where the index does not decide it). */
export function uriKeyMatches(key: UriKey, view: RequestView): boolean {
  switch (key.kind) {
    case "none":
      return true;
    case "exact":
      return (key.ignoreCase ? view.lowerPathOnly() : view.path) === key.value;
    case "prefix":
      return (key.ignoreCase ? view.lowerFullPath() : view.fullPath).startsWith(key.value);
  }
}

function pseudo(sm: StringMatch, field: string, get: (v: RequestView) => string): ViewPredicate {
  const c = compileStringMatch(sm, field);
  return (v) => c.test(get(v));
}

/**
 * A header (or claim) condition. In `withoutHeaders` Istio inverts the match
 * and treats a missing header as "" (Envoy `treat_missing_header_as_empty`),
 * except for presence, where the inverted entry matches an absent header. A
 * missing claim is never "" (claims are metadata matches): it fails the match.
 * `regex: "*"` in `withoutHeaders` passes validation and means "present".
 */
function headerCondition(rawName: string, sm: StringMatch, field: string, invert: boolean): ViewPredicate {
  const presence = isPresenceMatch(sm) || (invert && sm.regex === "*");
  const c: CompiledStringMatch | undefined = presence ? undefined : compileStringMatch(sm, field);
  if (isClaimKey(rawName)) {
    const path = claimPath(rawName);
    const matches = (v: RequestView): boolean => {
      const values = claimValues(v.facts.claims, path);
      // Claims are an Envoy metadata match (pilot translateMetadataMatch): a missing claim matches
      // nothing, so in `withoutHeaders` (an inverted matcher) it always lets the route apply.
      if (values === undefined) return false;
      if (c === undefined) return true;
      return values.some((x) => c.test(x));
    };
    return invert ? (v) => !matches(v) : matches;
  }
  const name = rawName.toLowerCase();
  if (c === undefined) return invert ? (v) => !v.facts.headers.has(name) : (v) => v.facts.headers.has(name);
  if (invert) return (v) => !c.test(v.facts.headers.get(name) ?? "");
  return (v) => {
    const value = v.facts.headers.get(name);
    return value !== undefined && c.test(value);
  };
}

/** `queryParams`: exact or regex on the first value; `{}` or `regex: "*"` = present. */
function queryCondition(name: string, sm: StringMatch, field: string): ViewPredicate {
  if (isPresenceMatch(sm) || sm.regex === "*") return (v) => v.queryParam(name) !== undefined;
  const c = compileStringMatch(sm, field);
  return (v) => {
    const value = v.queryParam(name);
    return value !== undefined && c.test(value);
  };
}
