/**
 * Istio regexes are RE2 (Envoy safe_regex) and must match the whole value.
 * JavaScript's engine is a superset in some places (lookaround,
 * backreferences) and differs in syntax in others (`(?i)`, `(?P<name>`), so
 * patterns are checked for RE2-only features and translated before compiling.
 */

export const MAX_REGEX_LENGTH = 1024;

/**
 * Matches only where the preceding run of backslashes is even, so the token that
 * follows is live syntax: `\\1` is a literal backslash and a digit, not a backreference.
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
  source = translateTextAnchors(source.replaceAll("(?P<", "(?<"));
  // Full match even under (?m): JS `^`/`$` would then stop at line breaks,
  // while Envoy's safe_regex must consume the whole value.
  return new RegExp(`(?<![\\s\\S])(?:${source})(?![\\s\\S])`, flags);
}

/**
 * Rewrites RE2 syntax JS reads differently: `\A` (start of text) and `\z`
 * (end of text), which JS takes as the letters `A` and `z`, become
 * lookarounds; a leading `]` in a class becomes `\]`.
 */
function translateTextAnchors(source: string): string {
  let out = "";
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === "\\" && i + 1 < source.length) {
      const next = source[i + 1]!;
      i++;
      if (next === "A" || next === "z") {
        if (inClass) throw new SyntaxError(`\\${next} is not allowed in a character class`);
        out += next === "A" ? "(?<![\\s\\S])" : "(?![\\s\\S])";
      } else {
        out += c + next;
      }
      continue;
    }
    if (c === "[" && !inClass) {
      inClass = true;
      // RE2 reads a `]` right after `[` or `[^` as a member; JS as an empty class.
      const lead = source[i + 1] === "^" ? 2 : 1;
      if (source[i + lead] === "]") {
        out += `${source.slice(i, i + lead)}\\]`;
        i += lead;
        continue;
      }
    } else if (c === "]" && inClass) {
      inClass = false;
    }
    out += c;
  }
  return out;
}
