/**
 * `rewrite` (Envoy prefix_rewrite / regex_rewrite / host_rewrite_literal).
 * `rewrite.uri` replaces the part of the path the route matched: the prefix
 * for a `prefix` match, the whole path for `exact` and `regex` matches, and
 * the leading `/` when the entry has no uri condition (so `/foo` rewritten to
 * `/bar` becomes `/barfoo`, as in Istio). The query string is kept
 * (istio-semantics.md §7.5). `uriRegexRewrite` replaces every match of an
 * RE2 pattern in the path (without the query) using `\1`-style groups.
 */
import type { HTTPMatchRequest, HTTPRewrite } from "../config/kinds/virtual-service.ts";
import { compileRegex, type Re2Pattern } from "./regex.ts";
import type { RequestView } from "./request-view.ts";

export interface CompiledRewrite {
  uri?: string;
  regex?: { pattern: Re2Pattern; rewrite: string };
  authority?: string;
}

export function compileRewrite(r: HTTPRewrite | undefined, field: string): CompiledRewrite | undefined {
  if (r === undefined) return undefined;
  const out: CompiledRewrite = {};
  if (r.uri !== undefined) out.uri = r.uri;
  if (r.uriRegexRewrite?.match !== undefined) {
    out.regex = { pattern: compileRegex(r.uriRegexRewrite.match, `${field}.uriRegexRewrite.match`), rewrite: r.uriRegexRewrite.rewrite ?? "" };
  }
  if (r.authority !== undefined && r.authority !== "") out.authority = r.authority;
  return out;
}

/** The upstream path (with query) after `rewrite`. */
export function rewritePath(rw: CompiledRewrite | undefined, view: RequestView, match: HTTPMatchRequest | undefined): string {
  if (rw === undefined) return view.fullPath;
  if (rw.regex !== undefined) return nonEmpty(rw.regex.pattern.replaceAll(view.path, rw.regex.rewrite)) + view.query;
  if (rw.uri === undefined) return view.fullPath;
  return replaceMatched(rw.uri, view, match);
}

/** Replaces the matched part of the path with `replacement` (shared with redirect `prefixRewrite`). */
export function replaceMatched(replacement: string, view: RequestView, match: HTTPMatchRequest | undefined): string {
  const uri = match?.uri;
  if (uri?.prefix !== undefined) return nonEmpty(replacement + view.fullPath.slice(uri.prefix.length));
  if (uri?.exact !== undefined || uri?.regex !== undefined) return nonEmpty(replacement) + view.query;
  // No uri condition: Envoy's route is `prefix: /`.
  return nonEmpty(replacement + view.fullPath.slice(1));
}

function nonEmpty(path: string): string {
  return path === "" ? "/" : path;
}
