import { RE2JS } from "re2js";

/**
 * Istio regexes are RE2 (Envoy safe_regex; Go's regexp in Istio's webhook) and
 * must match the whole value. Every user pattern is compiled with re2js, a
 * linear-time RE2 engine, never with JavaScript's backtracking RegExp.
 */

export const MAX_REGEX_LENGTH = 1024;

/**
 * Matches only where the preceding run of backslashes is even, so the token that
 * follows is live syntax: `\\1` is a literal backslash and a digit, not a backreference.
 * Used on our own constant patterns only, to name the RE2 feature a pattern lacks.
 */
const UNESCAPED = String.raw`(?<=(?:^|[^\\])(?:\\\\)*)`;

const UNSUPPORTED: readonly [RegExp, string][] = [
  [new RegExp(UNESCAPED + String.raw`\(\?<?[=!]`), "lookaround assertions are not supported by RE2"],
  [new RegExp(UNESCAPED + String.raw`\\[1-9]`), "backreferences are not supported by RE2"],
  [new RegExp(UNESCAPED + String.raw`\\k<`), "backreferences are not supported by RE2"],
  [new RegExp(UNESCAPED + String.raw`\(\?>`), "atomic groups are not supported by RE2"],
  [new RegExp(UNESCAPED + String.raw`[*+?}][+]`), "possessive quantifiers are not supported by RE2"],
];

/** Why `pattern` is not an acceptable RE2 regex, or `undefined` when it is. */
export function re2Problem(pattern: string): string | undefined {
  if (pattern.length > MAX_REGEX_LENGTH) return `regex is too large, max length allowed is ${MAX_REGEX_LENGTH}`;
  for (const [re, why] of UNSUPPORTED) if (re.test(pattern)) return why;
  try {
    RE2JS.compile(pattern);
  } catch (err) {
    return `invalid regex: ${err instanceof Error ? err.message : String(err)}; Istio uses RE2 style regex-based match`;
  }
  return undefined;
}

/** A compiled RE2 pattern matching whole values. */
export interface Re2Matcher {
  test(value: string): boolean;
}

/**
 * Compiles an RE2 pattern anchored to the whole value (Envoy's full match).
 * Throws when it does not compile.
 * @example compileRe2("v[0-9]+").test("v12") === true
 */
export function compileRe2(pattern: string): Re2Matcher {
  const re = RE2JS.compile(pattern);
  return { test: (value) => re.matcher(value).matches() };
}
