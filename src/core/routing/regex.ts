/**
 * Every user-supplied regex goes through RE2 (re2js): linear-time matching,
 * so a pattern like `(a+)+$` cannot stall a request. Istio/Envoy regexes
 * (`safe_regex`) must match the whole value; `matches` is fully anchored.
 * Patterns are compiled once, when a route table is compiled.
 */
import { RE2JS } from "re2js";
import { RegexCompileError } from "./errors.ts";

/** Istio's limit on regex length (validation). */
export const MAX_REGEX_LENGTH = 1024;

export interface Re2Pattern {
  readonly source: string;
  /** True when the pattern matches the whole of `value`. */
  matches(value: string): boolean;
  /**
   * Replaces every match in `value` with `rewrite`, which uses RE2's
   * substitution syntax (`\1` for the first capture group), as Envoy's
   * `regex_rewrite` does.
   */
  replaceAll(value: string, rewrite: string): string;
}

/**
 * Compiles an RE2 pattern. Throws `RegexCompileError` naming `field`.
 * @example compileRegex("v[0-9]+").matches("v12") === true
 */
export function compileRegex(pattern: string, field = "regex"): Re2Pattern {
  if (pattern.length > MAX_REGEX_LENGTH) throw new RegexCompileError(`regex is longer than ${MAX_REGEX_LENGTH} characters`, { field });
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (err) {
    throw new RegexCompileError(`invalid RE2 regex ${JSON.stringify(pattern)}: ${err instanceof Error ? err.message : String(err)}`, { field, cause: err });
  }
  return {
    source: pattern,
    matches: (value) => re.testExact(value),
    replaceAll: (value, rewrite) => re.matcher(value).replaceAll(toRe2jsReplacement(rewrite)),
  };
}

/** RE2 `\N` group references become re2js `$N`; a literal `$` becomes `$$`. */
function toRe2jsReplacement(rewrite: string): string {
  let out = "";
  for (let i = 0; i < rewrite.length; i++) {
    const c = rewrite[i]!;
    if (c === "\\" && i + 1 < rewrite.length) {
      const next = rewrite[i + 1]!;
      if (next >= "0" && next <= "9") {
        out += "$" + next;
        i++;
        continue;
      }
      if (next === "\\") {
        out += "\\";
        i++;
        continue;
      }
    }
    out += c === "$" ? "$$" : c;
  }
  return out;
}
