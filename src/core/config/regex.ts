/**
 * Istio regexes are RE2 (Envoy safe_regex) and must match the whole value.
 * JavaScript's engine is a superset in some places (lookaround,
 * backreferences) and differs in syntax in others (`(?i)`, `(?P<name>`), so
 * patterns are checked for RE2-only features and translated before compiling.
 */

export const MAX_REGEX_LENGTH = 1024;

const UNSUPPORTED: readonly [RegExp, string][] = [
  [/\(\?<?[=!]/, "lookaround assertions are not supported by RE2"],
  [/\\[1-9]/, "backreferences are not supported by RE2"],
  [/\\k</, "backreferences are not supported by RE2"],
  [/\(\?>/, "atomic groups are not supported by RE2"],
  [/[*+?}][+]/, "possessive quantifiers are not supported by RE2"],
];

/** Why `pattern` is not an acceptable RE2 regex, or `undefined` when it is. */
export function re2Problem(pattern: string): string | undefined {
  if (pattern.length > MAX_REGEX_LENGTH) return `regex is longer than ${MAX_REGEX_LENGTH} characters`;
  for (const [re, why] of UNSUPPORTED) if (re.test(pattern)) return why;
  try {
    compileRe2(pattern);
  } catch (err) {
    return `invalid regex: ${err instanceof Error ? err.message : String(err)}`;
  }
  return undefined;
}

/**
 * Compiles an RE2 pattern into a JavaScript RegExp anchored to the whole value.
 * Throws SyntaxError when it does not compile.
 * @example compileRe2("v[0-9]+").test("v12") === true
 */
export function compileRe2(pattern: string): RegExp {
  let flags = "";
  let source = pattern;
  const lead = /^\(\?([imsU]+)\)/.exec(source);
  if (lead !== null) {
    if (lead[1]!.includes("i")) flags += "i";
    if (lead[1]!.includes("s")) flags += "s";
    if (lead[1]!.includes("m")) flags += "m";
    source = source.slice(lead[0].length);
  }
  source = source.replaceAll("(?P<", "(?<");
  return new RegExp(`^(?:${source})$`, flags);
}
