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

/** Unreserved characters whose percent-encoding BASE normalization decodes (Istio's table). */
function isUnreservedCode(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x2e || c === 0x5f || c === 0x7e;
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** One pass, no double decoding: `%2e` becomes `.`, `%2f`/`%5c` stay encoded. */
function decodeUnreserved(path: string): string {
  if (!path.includes("%")) return path;
  let out = "";
  let last = 0;
  let i = path.indexOf("%");
  while (i >= 0 && i + 2 < path.length) {
    const hi = hexDigit(path.charCodeAt(i + 1));
    const lo = hexDigit(path.charCodeAt(i + 2));
    const code = hi * 16 + lo;
    if (hi >= 0 && lo >= 0 && isUnreservedCode(code)) {
      out += path.slice(last, i) + String.fromCharCode(code);
      last = i + 3;
      i = path.indexOf("%", i + 3);
    } else {
      i = path.indexOf("%", i + 1);
    }
  }
  return last === 0 ? path : out + path.slice(last);
}

/**
 * Why a request path must be refused before any policy runs (Istio answers 400), or undefined:
 * an encoded NUL (`%00`).
 */
export function rejectedPathReason(raw: string): string | undefined {
  const q = raw.indexOf("?");
  const path = q < 0 ? raw : raw.slice(0, q);
  for (let i = path.indexOf("%"); i >= 0; i = path.indexOf("%", i + 1)) {
    if (path[i + 1] === "0" && path[i + 2] === "0") return "the path contains an encoded NUL (%00)";
  }
  return undefined;
}

/**
 * The request path as Istio's default normalization (`BASE`) leaves it — what
 * policies match and what the data plane should forward: percent-encoded
 * unreserved characters decoded once (`%2e` -> `.`, `%41` -> `A`; `%2f` and
 * `%5c` kept), backslashes turned into `/`, `.`/`..` segments resolved
 * (RFC 3986); slashes are not merged. The query string is kept unchanged.
 */
export function normalizeRequestPath(raw: string): string {
  let path = raw;
  let rest = "";
  const q = path.indexOf("?");
  const h = path.indexOf("#");
  const cut = q < 0 ? h : h < 0 ? q : Math.min(q, h);
  if (cut >= 0) {
    rest = path.slice(cut);
    path = path.slice(0, cut);
  }
  if (path === "") return "/" + rest;
  // Fast path: nothing to decode, no backslash, no dot segment possible.
  if (path.charCodeAt(0) === 47 && !path.includes(".") && !path.includes("%") && !path.includes("\\")) return path + rest;
  path = decodeUnreserved(path).replaceAll("\\", "/");
  const input = path.split("/");
  const out: string[] = [];
  for (let i = 0; i < input.length; i++) {
    const seg = input[i]!;
    const last = i === input.length - 1;
    if (seg === ".") {
      if (last) out.push("");
      continue;
    }
    if (seg === "..") {
      if (out.length > 1) out.pop();
      if (last) out.push("");
      continue;
    }
    out.push(seg);
  }
  const joined = out.join("/");
  return (joined.startsWith("/") ? joined : "/" + joined) + rest;
}

/** A request path as the data plane takes it: normalized, or refused with the reason (a 400). */
export type RequestPath = { ok: true; path: string } | { ok: false; reason: string };

/**
 * The request path routes match, policies see and the upstream gets (Istio's BASE normalization,
 * `normalizeRequestPath`), or why it is refused before any of them runs (`rejectedPathReason`):
 * the one call each listener makes.
 */
export function requestPath(raw: string): RequestPath {
  const reason = rejectedPathReason(raw);
  return reason === undefined ? { ok: true, path: normalizeRequestPath(raw) } : { ok: false, reason };
}

/** The path policies match: `normalizeRequestPath` without the query string and fragment. */
export function normalizePolicyPath(raw: string): string {
  const normalized = normalizeRequestPath(raw);
  const q = normalized.indexOf("?");
  const h = normalized.indexOf("#");
  const cut = q < 0 ? h : h < 0 ? q : Math.min(q, h);
  return cut < 0 ? normalized : normalized.slice(0, cut);
}
