/**
 * `redirect` and the Gateway `httpsRedirect` (Envoy RedirectAction / newUri).
 * Default code 301. `uri` replaces the path and keeps the query string unless
 * it has its own. A `port` that is the new scheme's default is left out, as
 * Istio does. The `Host` port is dropped when a port is redirected and
 * when the scheme changes from one whose default port it carries
 * (`http`+`:80`, `https`+`:443`). `derivePort: FROM_REQUEST_PORT` uses the
 * port the request arrived on unless it is the new scheme's default
 * (istio-semantics.md §7.6); `FROM_PROTOCOL_DEFAULT` leaves the port to the
 * scheme.
 */
import type { HTTPMatchRequest, HTTPRedirect } from "../config/kinds/virtual-service.ts";
import type { RequestView } from "./request-view.ts";
import { replaceMatched } from "./rewrite.ts";
import { authorityPort, stripPortKeepCase } from "./authority.ts";

const DEFAULT_PORT: Readonly<Record<string, number>> = { http: 80, https: 443 };

export function redirectLocation(r: HTTPRedirect, view: RequestView, match: HTTPMatchRequest | undefined): { status: number; location: string } {
  const facts = view.facts;
  const scheme = (r.scheme ?? facts.scheme).toLowerCase();
  let port: number | undefined;
  let dropHostPort = false;
  // Istio's ApplyRedirect never writes :80 for http or :443 for https (it clears such a port, and
  // Envoy then treats the Host as if no port had been redirected).
  if (r.port !== undefined) port = r.port === DEFAULT_PORT[scheme] ? undefined : r.port;
  else if (r.derivePort === "FROM_REQUEST_PORT") {
    if (facts.port !== DEFAULT_PORT[scheme]) port = facts.port;
  } else if (r.derivePort === "FROM_PROTOCOL_DEFAULT") dropHostPort = true;
  let host = r.authority ?? requestHost(facts.authority, facts.scheme, scheme, port !== undefined);
  if (port !== undefined || dropHostPort) host = stripPortKeepCase(host);
  let path: string;
  if (r.uri !== undefined) path = r.uri.includes("?") ? r.uri : r.uri + view.query;
  else if (r.prefixRewrite !== undefined) path = replaceMatched(r.prefixRewrite, view, match);
  else path = view.fullPath;
  return { status: r.redirectCode ?? 301, location: `${scheme}://${host}${port === undefined ? "" : `:${port}`}${path}` };
}

/** Location for a Gateway server's `tls.httpsRedirect` (always 301). */
export function httpsRedirectLocation(view: RequestView): string {
  return `https://${requestHost(view.facts.authority, view.facts.scheme, "https", false)}${view.fullPath}`;
}

/** Envoy `processRequestHost`: the request Host with its port dropped when it would be wrong. */
function requestHost(authority: string, fromScheme: string, toScheme: string, newPort: boolean): string {
  const port = authorityPort(authority);
  if (port === undefined) return authority;
  let remove = newPort;
  if (fromScheme !== toScheme) remove ||= port === DEFAULT_PORT[fromScheme];
  return remove ? stripPortKeepCase(authority) : authority;
}
