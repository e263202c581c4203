/**
 * Istio `StringMatch` (exact / prefix / regex) compiled to a predicate.
 * `regex` is RE2 and must match the whole value. An empty StringMatch
 * (`{}`) means "present".
 */
import type { StringMatch } from "../config/kinds/common.ts";
import { compileRegex } from "./regex.ts";

export type ValuePredicate = (value: string) => boolean;

export interface CompiledStringMatch {
  /** `presence` for `{}`: any value (including "") matches. */
  kind: "exact" | "prefix" | "regex" | "presence";
  test: ValuePredicate;
}

/** True when the StringMatch sets none of exact, prefix, regex. */
export function isPresenceMatch(m: StringMatch): boolean {
  return m.exact === undefined && m.prefix === undefined && m.regex === undefined;
}

/**
 * Compiles a StringMatch. Throws `RegexCompileError` for a bad regex.
 * @example compileStringMatch({ prefix: "/api" }, "uri").test("/api/v1") === true
 */
export function compileStringMatch(m: StringMatch, field: string, ignoreCase = false): CompiledStringMatch {
  if (m.exact !== undefined) {
    const want = ignoreCase ? m.exact.toLowerCase() : m.exact;
    return { kind: "exact", test: ignoreCase ? (v) => v.toLowerCase() === want : (v) => v === want };
  }
  if (m.prefix !== undefined) {
    const want = ignoreCase ? m.prefix.toLowerCase() : m.prefix;
    return { kind: "prefix", test: ignoreCase ? (v) => v.toLowerCase().startsWith(want) : (v) => v.startsWith(want) };
  }
  if (m.regex !== undefined) {
    const re = compileRegex(m.regex, `${field}.regex`);
    return { kind: "regex", test: (v) => re.matches(v) };
  }
  return { kind: "presence", test: () => true };
}
