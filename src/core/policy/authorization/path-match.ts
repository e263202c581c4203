/**
 * Path matching for `paths`/`notPaths`: Istio string matching on the request
 * path without its query string, after normalization; values holding `{*}` or
 * `{**}` are Envoy URI templates (`{*}` one non-empty segment, `{**}` zero or
 * more characters including `/`, only as the last operator).
 */
import { matchString, stringPattern } from "../string-match.ts";

/** Characters Envoy's URI template operators accept inside a segment (RFC 3986 pchar minus `*`). */
function isTemplateChar(c: string): boolean {
  const code = c.charCodeAt(0);
  if ((code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122)) return true;
  return "-._~%!$&'()+,;:@=".includes(c);
}

function allTemplateChars(s: string, allowSlash: boolean): boolean {
  for (const c of s) {
    if (c === "/" ? !allowSlash : !isTemplateChar(c)) return false;
  }
  return true;
}

/** True when Istio treats the value as a path template. */
export function isPathTemplate(v: string): boolean {
  return v.includes("{*}") || v.includes("{**}");
}

type Piece = { kind: "literal"; text: string } | { kind: "one" } | { kind: "rest" };

/** Compiles a template; undefined when it is not one Istio accepts (operators must be whole segments, `{**}` last). */
export function compilePathTemplate(v: string): ((path: string) => boolean) | undefined {
  if (!v.startsWith("/")) return undefined;
  const pieces: Piece[] = [];
  let sawRest = false;
  const segments = v.split("/");
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    const sep = i === 0 ? "" : "/";
    if (seg === "{*}" || seg === "{**}") {
      if (sawRest) return undefined;
      if (sep !== "") pieces.push({ kind: "literal", text: sep });
      pieces.push(seg === "{*}" ? { kind: "one" } : { kind: "rest" });
      if (seg === "{**}") sawRest = true;
    } else {
      if (seg.includes("{") || seg.includes("}")) return undefined;
      pieces.push({ kind: "literal", text: sep + seg });
    }
  }
  // Merge adjacent literals so matching walks fewer pieces.
  const merged: Piece[] = [];
  for (const p of pieces) {
    const last = merged[merged.length - 1];
    if (p.kind === "literal" && last?.kind === "literal") last.text += p.text;
    else merged.push(p.kind === "literal" ? { kind: "literal", text: p.text } : p);
  }
  const restAt = merged.findIndex((p) => p.kind === "rest");
  const head = restAt < 0 ? merged : merged.slice(0, restAt);
  const tail = restAt < 0 ? [] : merged.slice(restAt + 1);
  const tailText = tail.map((p) => (p.kind === "literal" ? p.text : "")).join("");
  return (path) => {
    let pos = 0;
    for (const p of head) {
      if (p.kind === "literal") {
        if (!path.startsWith(p.text, pos)) return false;
        pos += p.text.length;
      } else {
        let end = path.indexOf("/", pos);
        if (end < 0) end = path.length;
        if (end === pos || !allTemplateChars(path.slice(pos, end), false)) return false;
        pos = end;
      }
    }
    if (restAt < 0) return pos === path.length;
    // `{**}` is last: everything between the head and the literal tail must be template characters or `/`.
    if (path.length - pos < tailText.length || !path.endsWith(tailText)) return false;
    return allTemplateChars(path.slice(pos, path.length - tailText.length), true);
  };
}

/** A compiled `paths` value; undefined for a malformed template. */
export function compilePathValue(v: string): ((path: string) => boolean) | undefined {
  if (isPathTemplate(v)) return compilePathTemplate(v);
  const p = stringPattern(v);
  return (path) => matchString(p, path);
}

/**
 * The path policies see: query and fragment removed, then RFC 3986 dot
 * segments resolved (Istio's default normalization, BASE: `normalize_path`
 * without merging slashes; `%2E` counts as a dot as in Envoy). Data planes
 * should forward the same normalized path upstream so policy and upstream agree.
 */
export function normalizePolicyPath(raw: string): string {
  let path = raw;
  const q = path.indexOf("?");
  const h = path.indexOf("#");
  const cut = q < 0 ? h : h < 0 ? q : Math.min(q, h);
  if (cut >= 0) path = path.slice(0, cut);
  if (path === "") return "/";
  // Fast path: no dot segments possible without "." or an encoded dot.
  if (path.charCodeAt(0) === 47 && !path.includes(".") && !path.includes("%")) return path;
  const input = path.split("/");
  const out: string[] = [];
  for (let i = 0; i < input.length; i++) {
    const seg = input[i]!;
    const lower = seg.toLowerCase();
    const isDot = seg === "." || lower === "%2e";
    const isDotDot = seg === ".." || lower === "%2e%2e" || lower === ".%2e" || lower === "%2e.";
    const last = i === input.length - 1;
    if (isDot) {
      if (last) out.push("");
      continue;
    }
    if (isDotDot) {
      if (out.length > 1) out.pop();
      if (last) out.push("");
      continue;
    }
    out.push(seg);
  }
  const joined = out.join("/");
  return joined.startsWith("/") ? joined : "/" + joined;
}
