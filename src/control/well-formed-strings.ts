import { ValidationError } from "../core/errors.ts";
import { walkParsedData } from "../core/config/plain-values.ts";

/** A UTF-16 surrogate that is not half of a pair (with the `u` flag a pair is one code point, not Cs). */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * Refuses a parsed request body holding a string (a value or a key) that is not well-formed
 * Unicode: JSON's `"\ud800"` and YAML's `"\uD800"` escapes decode to lone surrogates, which
 * no UTF-8 store keeps (D1 stores U+FFFD in their place, so an API token's subject or an audit
 * reason would silently change) and no HTTP header can carry. The error names the path of the
 * first such string, under `root` (`""` for a body's own fields, e.g. `requests[0].csr`).
 * Walks with `walkParsedData` (its own stack: a body may be nested deeper than the call stack).
 */
export function refuseLoneSurrogates(value: unknown, root: string): void {
  walkParsedData(value, root, {
    value(v, path) {
      if (typeof v === "string") check(v, path === "" ? "body" : path);
    },
    key: check,
  });
}

function check(text: string, path: string): void {
  const bad = LONE_SURROGATE.exec(text);
  if (bad === null) return;
  // The path may hold the lone surrogate itself (a key): it is named with U+FFFD in its place.
  const shown = path.replace(/\p{Cs}/gu, "\uFFFD").slice(0, 200);
  const code = `U+${(bad[0].codePointAt(0) ?? 0).toString(16).toUpperCase()}`;
  throw new ValidationError(`${shown}: not well-formed Unicode (a lone surrogate ${code} at index ${bad.index}); send UTF-8 text`, { field: shown });
}
