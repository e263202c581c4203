import type {
  CorsPolicy,
  Delegate,
  Destination,
  Headers,
  HeaderOperations,
  HTTPDirectResponse,
  HTTPFaultInjection,
  HTTPMatchRequest,
  HTTPMirrorPolicy,
  HTTPRedirect,
  HTTPRetry,
  HTTPRewrite,
  HTTPRoute,
  HTTPRouteDestination,
  L4MatchAttributes,
  RouteDestination,
  TCPRoute,
  TLSMatchAttributes,
  TLSRoute,
  VirtualServiceSpec,
} from "../kinds/virtual-service.ts";
import { hostMatches, hostsOverlap, MESH_GATEWAY } from "../hosts.ts";
import type { StringMatch } from "../kinds/common.ts";
import {
  checkDns1123Label,
  checkDns1123Subdomain,
  checkExportTo,
  checkFaultPercent,
  checkRegex,
  checkSelectorLabels,
  isIpOrCidr,
  labelsShape,
  percentShape,
  portSelectorShape,
  stringListShape,
  stringMatchShape,
} from "./common.ts";
import { fqdnProblem, isIpAddress, isIstioDns1123Label, portProblem, wildcardDomainProblem } from "./istio-names.ts";
import type { KindValidator, ValidationContext } from "./kind-validator.ts";
import { unreachableRoutes } from "../analysis/unreachable-routes.ts";
import { parseDurationMs } from "../duration.ts";
import { field, type Report } from "./report.ts";
import { arr, bool, deprecated, duration, int, map, obj, oneOf, req, str, type ObjectShape } from "./shape.ts";

/** `Destination`, shared with the Sidecar kind (`outboundTrafficPolicy.egressProxy`). */
export const destinationShape: ObjectShape = obj<Destination>({ host: req(str()), subset: str(), port: portSelectorShape });
const headerOpsShape = obj<HeaderOperations>({ set: map(str()), add: map(str()), remove: arr(str()) });
const headersShape = obj<Headers>({ request: headerOpsShape, response: headerOpsShape });

const matchShape = obj<HTTPMatchRequest>({
  name: str(),
  uri: stringMatchShape,
  scheme: stringMatchShape,
  method: stringMatchShape,
  authority: stringMatchShape,
  headers: map(stringMatchShape),
  port: int({ min: 0, max: 4294967295 }),
  sourceLabels: labelsShape,
  gateways: stringListShape,
  queryParams: map(stringMatchShape),
  ignoreUriCase: bool(),
  withoutHeaders: map(stringMatchShape),
  sourceNamespace: str(),
  statPrefix: str(),
});

const httpRouteShape = obj<HTTPRoute>({
  name: str(),
  match: arr(matchShape),
  route: arr(obj<HTTPRouteDestination>({ destination: req(destinationShape), weight: int({ min: 0 }), headers: headersShape })),
  redirect: obj<HTTPRedirect>({
    uri: str(),
    authority: str(),
    port: int({ min: 0, max: 4294967295 }),
    derivePort: oneOf(["FROM_PROTOCOL_DEFAULT", "FROM_REQUEST_PORT"]),
    scheme: str(),
    redirectCode: int(),
    prefixRewrite: str(),
  }),
  directResponse: obj<HTTPDirectResponse>({
    status: req(int()),
    body: obj<{ string?: string; bytes?: string }>({ string: str(), bytes: str() }),
  }),
  delegate: obj<Delegate>({ name: str(), namespace: str() }),
  rewrite: obj<HTTPRewrite>({
    uri: str(),
    authority: str(),
    uriRegexRewrite: obj<{ match?: string; rewrite?: string }>({ match: str(), rewrite: str() }),
  }),
  timeout: duration(),
  retries: obj<HTTPRetry>({
    attempts: int({ min: 0 }),
    perTryTimeout: duration(),
    retryOn: str(),
    retryRemoteLocalities: bool(),
    retryIgnorePreviousHosts: bool(),
    backoff: duration(),
  }),
  fault: obj<HTTPFaultInjection>({
    delay: obj<NonNullable<HTTPFaultInjection["delay"]>>({
      fixedDelay: duration(),
      exponentialDelay: duration(),
      percentage: percentShape,
      percent: deprecated(int({ min: 0, max: 100 }), "use percentage.value"),
    }),
    abort: obj<NonNullable<HTTPFaultInjection["abort"]>>({ httpStatus: int(), grpcStatus: str(), http2Error: str(), percentage: percentShape }),
  }),
  mirror: destinationShape,
  mirrors: arr(obj<HTTPMirrorPolicy>({ destination: req(destinationShape), percentage: percentShape })),
  mirrorPercentage: percentShape,
  mirrorPercent: deprecated(int({ min: 0, max: 100 }), "use mirrorPercentage.value"),
  corsPolicy: obj<CorsPolicy>({
    allowOrigins: arr(stringMatchShape),
    allowOrigin: deprecated(stringListShape, "use allowOrigins"),
    allowMethods: stringListShape,
    allowHeaders: stringListShape,
    exposeHeaders: stringListShape,
    maxAge: duration(),
    allowCredentials: bool(),
    unmatchedPreflights: oneOf(["UNSPECIFIED", "FORWARD", "IGNORE"]),
  }),
  headers: headersShape,
});

const routeDestinationShape = obj<RouteDestination>({ destination: req(destinationShape), weight: int({ min: 0 }) });

const shape = obj<VirtualServiceSpec>({
  hosts: stringListShape,
  gateways: stringListShape,
  http: arr(httpRouteShape),
  tls: arr(
    obj<TLSRoute>({
      match: req(
        arr(
          obj<TLSMatchAttributes>({
            sniHosts: req(stringListShape),
            destinationSubnets: stringListShape,
            port: int({ min: 0, max: 4294967295 }),
            sourceLabels: labelsShape,
            gateways: stringListShape,
            sourceNamespace: str(),
          }),
        ),
      ),
      route: arr(routeDestinationShape),
    }),
  ),
  tcp: arr(
    obj<TCPRoute>({
      match: arr(
        obj<L4MatchAttributes>({
          destinationSubnets: stringListShape,
          port: int({ min: 0, max: 4294967295 }),
          sourceSubnet: str(),
          sourceLabels: labelsShape,
          gateways: stringListShape,
          sourceNamespace: str(),
        }),
      ),
      route: arr(routeDestinationShape),
    }),
  ),
  exportTo: stringListShape,
});

/** Envoy retry_on policies Istio accepts (besides HTTP status codes). */
const RETRY_ON = new Set([
  "5xx", "gateway-error", "reset", "reset-before-request", "connect-failure", "retriable-4xx", "refused-stream",
  "retriable-status-codes", "retriable-headers", "envoy-ratelimited", "http3-post-connect-failure",
  "cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable",
]);

/** Status codes Go's `http.StatusText` knows (Istio accepts a retryOn code only if it has a name). */
const HTTP_STATUS_CODES = new Set([
  100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 307, 308,
  400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417, 418, 421, 422, 423, 424, 425, 426, 428, 429, 431, 451,
  500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511,
]);

const GRPC_STATUS = new Set([
  "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
]);

const CORS_METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "CONNECT", "OPTIONS", "TRACE", "*"]);
const TOKEN = /^[!#$%&'*+\-.^_`|~A-Za-z0-9]+$/;
const PSEUDO_HEADERS = new Set([":method", ":scheme", ":authority", ":path", ":status"]);
/** pilot `jwt.ToRoutingClaim`: `@request.auth.claims.<a>[.<b>]` or `@request.auth.claims[a][b]`. */
const CLAIM_ROUTE = /^@request\.auth\.claims(?:\.[^.\[\]]+(?:\.[^.\[\]]+)*|(?:\[[^\[\]]+\])+)$/;

/** Istio's `ValidateVirtualService` (pkg/config/validation/validation.go, virtualservice.go). */
export const virtualServiceValidator: KindValidator<VirtualServiceSpec> = {
  shape,
  check(spec, ctx) {
    const r = ctx.report;
    const hosts = spec.hosts ?? [];
    const gateways = spec.gateways ?? [];
    if (hosts.length === 0) {
      // A delegate VS: only http routes, no gateways.
      if (gateways.length > 0) r.error("spec.gateways", "delegate virtual service must have no gateways specified");
      if ((spec.tls?.length ?? 0) > 0) r.error("spec.tls", "delegate virtual service must have no tls route specified");
      if ((spec.tcp?.length ?? 0) > 0) r.error("spec.tcp", "delegate virtual service must have no tcp route specified");
    }
    gateways.forEach((g, i) => checkGatewayName(g, `spec.gateways[${i}]`, r));
    // Bound to a gateway unless `mesh` is listed (no gateways = mesh only).
    const appliesToGateway = gateways.length > 0 && !gateways.includes(MESH_GATEWAY);
    const appliesToMesh = !appliesToGateway;
    if (!appliesToGateway) {
      spec.http?.forEach((route, i) =>
        route.match?.forEach((m, j) => {
          for (const k of ["headers", "withoutHeaders"] as const) {
            for (const name of Object.keys(m[k] ?? {})) {
              if (CLAIM_ROUTE.test(name)) r.error(field(`spec.http[${i}].match[${j}].${k}`, name), `JWT claim based routing (key: ${name}) is only supported for gateway, found no gateways`);
            }
          }
        }),
      );
    }
    const sni = (spec.tls ?? []).some((t) => t.match.some((m) => m.sniHosts.length > 0));
    let allHostsValid = true;
    hosts.forEach((h, i) => {
      const p = `spec.hosts[${i}]`;
      const problem = appliesToGateway ? gatewayBoundHostProblem(h, sni) : wildcardDomainProblem(h);
      if (problem !== undefined) {
        if (!isIpAddress(h)) {
          r.error(p, problem);
          allHostsValid = false;
        }
      } else if (appliesToMesh && h === "*") {
        r.error(p, "wildcard host * is not allowed for virtual services bound to the mesh gateway");
        allHostsValid = false;
      }
    });
    if (allHostsValid) {
      // Duplicates include wildcard overlaps: `*.foo.com` and `a.foo.com` in one VirtualService.
      for (let i = 0; i < hosts.length; i++) {
        for (let j = i + 1; j < hosts.length; j++) {
          if (hostsOverlap(hosts[i]!, hosts[j]!)) r.error(`spec.hosts[${j}]`, `duplicate hosts in virtual service: ${hosts[i]} & ${hosts[j]}`);
        }
      }
    }
    if ((spec.http?.length ?? 0) + (spec.tls?.length ?? 0) + (spec.tcp?.length ?? 0) === 0) r.error("spec", "http, tcp or tls must be provided in virtual service");
    spec.http?.forEach((route, i) => checkHttpRoute(route, `spec.http[${i}]`, hosts.length === 0, ctx));
    spec.tls?.forEach((route, i) => checkTlsRoute(route, `spec.tls[${i}]`, hosts, appliesToGateway, r));
    spec.tcp?.forEach((route, i) => checkTcpRoute(route, `spec.tcp[${i}]`, r));
    checkExportTo(spec.exportTo, r, { namespace: ctx.namespace });
    // Istio's webhook warns about rules and matches that can never fire (VirtualServiceUnreachableRule/IneffectiveMatch).
    for (const u of unreachableRoutes(spec)) r.warn(u.path, `${u.code}: ${u.message}`);
  },
};

/** agent.ValidateWildcardDomainForVirtualServiceBoundToGateway: also `outbound_.<PORT>_._.<HOSTNAME>` SNI names. */
function gatewayBoundHostProblem(h: string, sni: boolean): string | undefined {
  if (sni && h.startsWith("outbound_")) {
    const parts = h.split("_");
    if (parts.length < 4) return `domain name ${h} invalid, should follow 'outbound_.<PORT>_._.<HOSTNAME>' format`;
    const port = parts[1]!.replace(/^\.+|\.+$/g, "");
    const host = parts[3]!.replace(/^\.+|\.+$/g, "");
    if (!/[0-9]/.test(port)) return `domain name ${JSON.stringify(h)} invalid (label ${JSON.stringify(port)} invalid). should follow outbound_.<PORT>_._.<HOSTNAME> format`;
    if (!/[a-zA-Z]/.test(host)) return `domain name ${JSON.stringify(h)} invalid (label ${JSON.stringify(host)} invalid). should follow outbound_.<PORT>_._.<HOSTNAME> format`;
    return undefined;
  }
  return wildcardDomainProblem(h);
}

/** `validateGatewayNames`: `<ns>/<name>` (both DNS labels) or a bare name (an FQDN; `name.ns` is the legacy form, with a warning). */
function checkGatewayName(g: string, path: string, r: Report): void {
  const slash = g.indexOf("/");
  if (slash < 0) {
    if (g.includes(".")) {
      const [name, ns] = g.split(".");
      r.warn(path, `using legacy gatewayName format ${JSON.stringify(g)}; prefer the <namespace>/<name> format: ${JSON.stringify(`${ns}/${name}`)}`);
    }
    const f = fqdnProblem(g);
    if (f !== undefined) r.error(path, f);
    return;
  }
  const ns = g.slice(0, slash);
  const name = g.slice(slash + 1);
  if (ns === "" || name === "") r.error(path, "config namespace and gateway name cannot be empty");
  else {
    if (!isIstioDns1123Label(ns)) r.error(path, `invalid value for namespace: ${JSON.stringify(ns)}`);
    if (!isIstioDns1123Label(name)) r.error(path, `invalid value for gateway name: ${JSON.stringify(name)}`);
  }
}

function checkHttpRoute(route: HTTPRoute, path: string, inDelegate: boolean, ctx: ValidationContext): void {
  const r = ctx.report;
  const routes = route.route ?? [];
  if (!inDelegate && route.delegate !== undefined) {
    // A root route only delegates.
    if (route.redirect !== undefined) r.error(`${path}.redirect`, "a root HTTP route (with delegate) must not specify redirect");
    if (route.route !== undefined) r.error(`${path}.route`, "a root HTTP route (with delegate) must not specify route");
  } else {
    if (inDelegate && route.delegate !== undefined) r.error(`${path}.delegate`, "delegate HTTP route cannot contain delegate");
    if (route.redirect !== undefined) {
      if (routes.length > 0) r.error(`${path}.redirect`, "HTTP route cannot contain both route and redirect");
      if (route.fault !== undefined) r.error(`${path}.fault`, "HTTP route cannot contain both fault and redirect");
      if (route.rewrite !== undefined) r.error(`${path}.rewrite`, "HTTP route rule cannot contain both rewrite and redirect");
      if (route.directResponse !== undefined) r.error(`${path}.directResponse`, "HTTP route rule cannot contain both direct_response and redirect");
    } else if (route.directResponse !== undefined) {
      if (routes.length > 0) r.error(`${path}.directResponse`, "HTTP route cannot contain both route and direct_response");
      if (route.fault !== undefined) r.error(`${path}.fault`, "HTTP route cannot contain both fault and direct_response");
      if (route.rewrite !== undefined) r.error(`${path}.rewrite`, "HTTP route rule cannot contain both rewrite and direct_response");
    } else if (routes.length === 0) r.error(path, "HTTP route, redirect or direct_response is required");
  }
  if (route.mirror !== undefined && (route.mirrors?.length ?? 0) > 0) r.error(`${path}.mirrors`, "HTTP route cannot contain both mirror and mirrors");
  route.match?.forEach((m, i) => checkHttpMatch(m, `${path}.match[${i}]`, r));
  checkHeaderOps(route.headers, `${path}.headers`, r);
  checkCors(route.corsPolicy, `${path}.corsPolicy`, r);
  if (route.fault !== undefined) checkFault(route.fault, `${path}.fault`, r);
  if (route.mirrorPercent !== undefined) {
    if (route.mirrorPercentage !== undefined) r.error(`${path}.mirrorPercent`, "mirrorPercent and mirrorPercentage are mutually exclusive");
  }
  if (route.mirror !== undefined) checkDestination(route.mirror, `${path}.mirror`, r);
  route.mirrors?.forEach((m, i) => checkDestination(m.destination, `${path}.mirrors[${i}].destination`, r));
  if (route.redirect !== undefined) checkRedirect(route.redirect, `${path}.redirect`, r);
  if (route.directResponse !== undefined) checkDirectResponse(route.directResponse, `${path}.directResponse`, r);
  if (route.retries !== undefined) checkRetries(route.retries, `${path}.retries`, r);
  if (route.rewrite !== undefined) checkRewrite(route.rewrite, `${path}.rewrite`, r);
  checkAuthorityRewrite(route, path, r);
  routes.forEach((d, i) => {
    checkDestination(d.destination, `${path}.route[${i}].destination`, r);
    checkHeaderOps(d.headers, `${path}.route[${i}].headers`, r);
  });
  checkTotalWeight(routes, `${path}.route`, r);
  const d = route.delegate;
  if (d !== undefined) {
    if (d.name === undefined || d.name === "") r.error(`${path}.delegate.name`, "required field is missing");
    else checkDns1123Subdomain(d.name, `${path}.delegate.name`, r);
    if (d.namespace !== undefined) checkDns1123Label(d.namespace, `${path}.delegate.namespace`, r);
  }
}

/** `ValidateHTTPHeaderNameOrJwtClaimRoute`: an HTTP token (any case), a pseudo-header, or a JWT claim route. */
function checkMatchHeaderName(name: string, path: string, r: Report): void {
  if (name === "") r.error(path, "header name cannot be empty");
  else if (name.startsWith("@")) {
    if (!CLAIM_ROUTE.test(name)) r.error(path, `header name ${name} is not a valid header name (a JWT claim route is @request.auth.claims.<claim> or @request.auth.claims[a][b])`);
  } else if (!PSEUDO_HEADERS.has(name) && !TOKEN.test(name)) r.error(path, `header name ${name} is not a valid header name`);
}

/** `validateStringMatch`: a prefix or regex must not be empty; a regex must be RE2. Exactly one kind (CRD oneOf). */
function checkMatchValue(m: StringMatch, path: string, r: Report, o: { uri?: boolean } = {}): void {
  const set = (["exact", "prefix", "regex"] as const).filter((k) => m[k] !== undefined);
  if (set.length > 1) {
    r.error(path, `only one of exact, prefix, regex may be set (got ${set.join(", ")})`);
    return;
  }
  if (m.prefix === "" && o.uri !== true) r.error(`${path}.prefix`, "prefix string match should not be empty");
  if (m.regex !== undefined) {
    if (m.regex === "") r.error(`${path}.regex`, "regex string match should not be empty");
    else checkRegex(m.regex, `${path}.regex`, r);
  }
}

function checkHttpMatch(m: HTTPMatchRequest, path: string, r: Report): void {
  for (const [name, sm] of Object.entries(m.headers ?? {})) {
    const p = field(`${path}.headers`, name);
    checkMatchHeaderName(name, p, r);
    checkMatchValue(sm, p, r);
  }
  for (const [name, sm] of Object.entries(m.withoutHeaders ?? {})) {
    const p = field(`${path}.withoutHeaders`, name);
    checkMatchHeaderName(name, p, r);
    // `regex: "*"` is not RE2 here: Istio reads it as "present".
    if (sm.regex !== "*") checkMatchValue(sm, p, r);
  }
  if (m.uri !== undefined) checkMatchValue(m.uri, `${path}.uri`, r, { uri: true });
  for (const k of ["scheme", "method", "authority"] as const) {
    const sm = m[k];
    if (sm !== undefined) checkMatchValue(sm, `${path}.${k}`, r);
  }
  for (const [name, sm] of Object.entries(m.queryParams ?? {})) checkMatchValue(sm, field(`${path}.queryParams`, name), r);
  if (m.port !== undefined && m.port !== 0) {
    const pp = portProblem(m.port);
    if (pp !== undefined) r.error(`${path}.port`, pp);
  }
  checkSelectorLabels(m.sourceLabels, `${path}.sourceLabels`, r);
  m.gateways?.forEach((g, i) => checkGatewayName(g, `${path}.gateways[${i}]`, r));
  if (m.sourceNamespace !== undefined && m.sourceNamespace !== "" && !isIstioDns1123Label(m.sourceNamespace)) {
    r.error(`${path}.sourceNamespace`, `sourceNamespace match ${m.sourceNamespace} is invalid`);
  }
}

/** Istio's `validateDestination`: host a (wildcard) domain but not `*`; subset a DNS label; port 1..65535. */
export function checkDestination(d: Destination, path: string, r: Report): void {
  if (d.host === "*") r.error(`${path}.host`, `invalid destination host ${d.host}`);
  else {
    const hp = wildcardDomainProblem(d.host);
    if (hp !== undefined) r.error(`${path}.host`, hp);
  }
  if (d.subset !== undefined && d.subset !== "" && !isIstioDns1123Label(d.subset)) r.error(`${path}.subset`, `subset name is invalid: ${d.subset}`);
  // Out-of-range numbers are refused by the schema; an empty selector is port 0 to Istio.
  if (d.port !== undefined && d.port.number === undefined) r.error(`${path}.port.number`, "port number 0 must be in the range 1..65535");
}

function checkTotalWeight(routes: readonly { weight?: number }[], path: string, r: Report): void {
  if (routes.length > 1 && routes.reduce((sum, d) => sum + (d.weight ?? 0), 0) === 0) r.error(path, "total destination weight = 0");
}

/** Header operations: request add/set may not use `:` pseudo-headers except `:authority`; remove and response ops may not touch Host or pseudo-headers. */
function checkHeaderOps(h: Headers | undefined, path: string, r: Report): void {
  if (h === undefined) return;
  const internal = (n: string) => n.startsWith(":") || n.toLowerCase() === "host";
  const authority = (n: string) => n.toLowerCase() === ":authority" || n.toLowerCase() === "host";
  for (const dir of ["request", "response"] as const) {
    const ops = h[dir];
    if (ops === undefined) continue;
    for (const op of ["set", "add"] as const) {
      for (const [name, value] of Object.entries(ops[op] ?? {})) {
        const p = field(`${path}.${dir}.${op}`, name);
        if (name === "") r.error(p, "header name cannot be empty");
        else if (dir === "request" ? internal(name) && !authority(name) : internal(name)) {
          r.error(p, name.toLowerCase() === "host" ? `invalid header ${JSON.stringify(name)}: cannot set Host header` : `invalid header ${JSON.stringify(name)}: header cannot have ":" prefix`);
        } else if (!authority(name) && !HTTP_TOKEN.test(name)) r.error(p, headerNameProblem(name));
        const v = headerValueProblem(value);
        if (v !== undefined) r.error(p, v);
      }
    }
    ops.remove?.forEach((name, i) => {
      const p = `${path}.${dir}.remove[${i}]`;
      if (name === "") r.error(p, "header name cannot be empty");
      else if (internal(name)) r.error(p, name.toLowerCase() === "host" ? `invalid header ${JSON.stringify(name)}: cannot set Host header` : `invalid header ${JSON.stringify(name)}: header cannot have ":" prefix`);
      else if (!HTTP_TOKEN.test(name)) r.error(p, headerNameProblem(name));
    });
  }
}

/** An HTTP field name (RFC 9110 §5.1: a token). Envoy refuses any other name in a header op, and so would the runtimes' Headers. */
const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function headerNameProblem(name: string): string {
  return `invalid header ${JSON.stringify(name)}: not a valid HTTP header name (letters, digits and !#$%&'*+-.^_\`|~ only)`;
}

/** `ValidateHTTPHeaderValue`: no control characters; `%` starts an Envoy `%VARIABLE%` or is doubled (`%%`). */
function headerValueProblem(value: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000A-\u001F\u007F]/.test(value)) return `header value configuration ${JSON.stringify(value)} is invalid (control characters)`;
  for (let i = 0; i < value.length; i++) {
    if (value[i] !== "%") continue;
    if (value[i + 1] === "%") {
      i++;
      continue;
    }
    const end = value.indexOf("%", i + 1);
    if (end < 0) return `header value configuration: unterminated % in ${JSON.stringify(value)} (write %% for a literal %)`;
    if (end === i + 1) return `header value configuration: empty %% variable in ${JSON.stringify(value)}`;
    i = end;
  }
  return undefined;
}

/** `validateAuthorityRewrite`: the authority may be rewritten in one place only. */
function checkAuthorityRewrite(route: HTTPRoute, path: string, r: Report): void {
  let current = route.rewrite?.authority ?? "";
  for (const op of ["set", "add"] as const) {
    for (const [k, v] of Object.entries(route.headers?.request?.[op] ?? {})) {
      if (k.toLowerCase() !== ":authority" && k.toLowerCase() !== "host") continue;
      if (current !== "") {
        r.error(field(`${path}.headers.request.${op}`, k), `authority header cannot be set multiple times: have ${JSON.stringify(current)}, attempting to set ${JSON.stringify(v)}`);
        return;
      }
      current = v;
    }
  }
}

function checkCors(c: CorsPolicy | undefined, path: string, r: Report): void {
  if (c === undefined) return;
  c.allowOrigins?.forEach((o, i) => {
    const p = `${path}.allowOrigins[${i}]`;
    const value = o.exact ?? o.prefix ?? o.regex ?? "";
    if (value === "") r.error(p, `'${value}' is not a valid match type for CORS allow origins`);
    else checkMatchValue(o, p, r);
  });
  c.allowMethods?.forEach((m, i) => {
    if (!CORS_METHODS.has(m)) r.error(`${path}.allowMethods[${i}]`, `${JSON.stringify(m)} is not a supported HTTP method`);
  });
  for (const k of ["allowHeaders", "exposeHeaders"] as const) {
    c[k]?.forEach((h, i) => {
      if (h === "") r.error(`${path}.${k}[${i}]`, "header name cannot be empty");
      else if (h !== "*" && !TOKEN.test(h)) r.error(`${path}.${k}[${i}]`, `header name ${h} is not a valid header name`);
    });
  }
  if (c.maxAge !== undefined) {
    const ms = parseDurationMs(c.maxAge);
    if (ms !== undefined && ms % 1000 !== 0) r.error(`${path}.maxAge`, "max_age duration is accurate only to seconds precision");
  }
}

function checkRedirect(red: HTTPRedirect, path: string, r: Report): void {
  if ((red.uri ?? "") === "" && (red.authority ?? "") === "" && red.port === undefined && red.derivePort === undefined && (red.scheme ?? "") === "" && (red.prefixRewrite ?? "") === "") {
    r.error(path, "redirect must specify URI, authority, scheme, or port");
  }
  if (red.uri !== undefined && red.prefixRewrite !== undefined) r.error(`${path}.prefixRewrite`, "uri and prefixRewrite are mutually exclusive");
  if (red.port !== undefined && red.derivePort !== undefined) r.error(`${path}.derivePort`, "port and derivePort are mutually exclusive");
  if (red.redirectCode !== undefined && red.redirectCode !== 0 && (red.redirectCode < 300 || red.redirectCode > 399)) {
    r.error(`${path}.redirectCode`, `${red.redirectCode} is not a valid redirect code, must be 3xx`);
  }
  if (red.scheme !== undefined && red.scheme !== "" && red.scheme !== "http" && red.scheme !== "https") r.error(`${path}.scheme`, 'invalid redirect scheme, must be "http" or "https"');
  if (red.port !== undefined && red.port > 0) {
    const pp = portProblem(red.port);
    if (pp !== undefined) r.error(`${path}.port`, pp);
  }
}

/** Status 200..600 as Istio checks it; a body over 1 MB is refused, over 100 KB warned about. */
function checkDirectResponse(d: HTTPDirectResponse, path: string, r: Report): void {
  if (d.status < 200 || d.status > 600) r.error(`${path}.status`, `HTTP status ${d.status} is not in range 200-599`);
  if (d.body?.string !== undefined && d.body.bytes !== undefined) r.error(`${path}.body`, "only one of string, bytes may be set");
  if (d.body?.bytes !== undefined && !/^[A-Za-z0-9+/]*={0,2}$/.test(d.body.bytes)) r.error(`${path}.body.bytes`, "must be base64");
  const size = d.body?.string !== undefined ? new TextEncoder().encode(d.body.string).length : d.body?.bytes !== undefined ? Math.floor((d.body.bytes.length * 3) / 4) : 0;
  if (size > 1024 * 1024) r.error(`${path}.body`, "large direct_responses may impact control plane performance, must be less than 1MB");
  else if (size > 100 * 1024) r.warn(`${path}.body`, "large direct_responses may impact control plane performance");
}

function checkRewrite(rw: HTTPRewrite, path: string, r: Report): void {
  const uri = (rw.uri ?? "") !== "";
  if (uri && rw.uriRegexRewrite !== undefined) {
    r.error(`${path}.uriRegexRewrite`, "rewrite may only contain one of URI or UriRegexRewrite");
    return;
  }
  if (!uri && rw.uriRegexRewrite === undefined && (rw.authority ?? "") === "") {
    r.error(path, "rewrite must specify at least one of URI, UriRegexRewrite, or authority. Only one of URI or UriRegexRewrite may be specified");
    return;
  }
  const rr = rw.uriRegexRewrite;
  if (rr !== undefined) {
    if ((rr.match ?? "") === "" || (rr.rewrite ?? "") === "") r.error(`${path}.uriRegexRewrite`, "UriRegexRewrite requires both Rewrite and Match fields to be specified");
    else checkRegex(rr.match!, `${path}.uriRegexRewrite.match`, r);
  }
}

function checkRetries(retries: HTTPRetry, path: string, r: Report): void {
  if ((retries.attempts ?? 0) === 0 && (retries.perTryTimeout !== undefined || (retries.retryOn ?? "") !== "" || retries.retryRemoteLocalities !== undefined)) {
    r.error(`${path}.attempts`, "http retry policy configured when attempts are set to 0 (disabled)");
  }
  if (retries.retryOn === undefined || retries.retryOn === "") return;
  for (const policy of retries.retryOn.split(",")) {
    if (RETRY_ON.has(policy)) continue;
    if (/^\d+$/.test(policy) && HTTP_STATUS_CODES.has(Number(policy))) continue;
    r.error(`${path}.retryOn`, `${JSON.stringify(policy)} is not a valid retryOn policy`);
  }
}

function checkFault(fault: HTTPFaultInjection, path: string, r: Report): void {
  if (fault.delay === undefined && fault.abort === undefined) r.error(path, "HTTP fault injection must have an abort and/or a delay");
  const delay = fault.delay;
  if (delay !== undefined) {
    const p = `${path}.delay`;
    checkFaultPercent(delay.percentage?.value, `${p}.percentage.value`, r);
    if (delay.exponentialDelay !== undefined) r.error(`${p}.exponentialDelay`, "exponentialDelay not supported yet");
    if (delay.fixedDelay !== undefined && delay.exponentialDelay !== undefined) r.error(`${p}.fixedDelay`, "only one of fixedDelay, exponentialDelay may be set");
    if (delay.percentage !== undefined && delay.percent !== undefined) r.error(`${p}.percent`, "percent and percentage are mutually exclusive");
    if (delay.fixedDelay === undefined && delay.exponentialDelay === undefined) r.warn(p, "delay configured, but no fixedDelay: it has no effect");
    else if (delay.percentage === undefined && delay.percent === undefined) r.warn(`${p}.percentage`, "no percentage set: the delay applies to 0% of requests");
  }
  const abort = fault.abort;
  if (abort !== undefined) {
    const p = `${path}.abort`;
    checkFaultPercent(abort.percentage?.value, `${p}.percentage.value`, r);
    const kinds = (["httpStatus", "grpcStatus", "http2Error"] as const).filter((k) => abort[k] !== undefined);
    if (kinds.length > 1) r.error(`${p}.${kinds[1]}`, "only one of httpStatus, grpcStatus, http2Error may be set");
    if (kinds.length === 0) r.warn(p, "abort configured, but error type not set");
    if (abort.http2Error !== undefined) r.error(`${p}.http2Error`, "HTTP/2 abort fault injection not supported yet");
    if (abort.httpStatus !== undefined && (abort.httpStatus < 200 || abort.httpStatus > 600)) r.error(`${p}.httpStatus`, `HTTP status ${abort.httpStatus} is not in range 200-599`);
    if (abort.grpcStatus !== undefined && !GRPC_STATUS.has(abort.grpcStatus)) {
      r.error(`${p}.grpcStatus`, `gRPC status ${JSON.stringify(abort.grpcStatus)} is not supported. See https://github.com/grpc/grpc/blob/master/doc/statuscodes.md for a list of supported codes, for example 'NOT_FOUND'`);
    }
    if (kinds.length > 0 && abort.percentage === undefined) r.warn(`${p}.percentage`, "no percentage set: the abort applies to 0% of requests");
  }
}

function checkTlsRoute(route: TLSRoute, path: string, vsHosts: readonly string[], boundToGateway: boolean, r: Report): void {
  if (route.match.length === 0) r.error(`${path}.match`, "TLS route must have at least one match condition");
  route.match.forEach((m, i) => {
    const p = `${path}.match[${i}]`;
    if (m.sniHosts.length === 0) r.error(`${p}.sniHosts`, "TLS match must have at least one SNI host");
    m.sniHosts.forEach((sni, j) => {
      const sp = `${p}.sniHosts[${j}]`;
      const problem = boundToGateway ? gatewayBoundHostProblem(sni, true) : wildcardDomainProblem(sni);
      if (problem !== undefined) {
        if (isIpAddress(sni)) r.warn(sp, `using an IP address (${JSON.stringify(sni)}) goes against SNI spec and most clients do not support this`);
        else r.error(sp, problem);
        return;
      }
      // SNI host must be a subset of one of the VirtualService hosts.
      if (!vsHosts.some((h) => hostMatches(h, sni))) {
        r.error(sp, `SNI host ${JSON.stringify(sni)} is not a compatible subset of any of the virtual service hosts: [${vsHosts.join(", ")}]`);
      }
    });
    checkL4Common(m, p, r);
  });
  if ((route.route?.length ?? 0) === 0) r.error(`${path}.route`, "TLS route is required");
  checkRouteDestinations(route.route, `${path}.route`, r);
}

function checkTcpRoute(route: TCPRoute, path: string, r: Report): void {
  route.match?.forEach((m, i) => checkL4Common(m, `${path}.match[${i}]`, r));
  if ((route.route?.length ?? 0) === 0) r.error(`${path}.route`, "TCP route is required");
  checkRouteDestinations(route.route, `${path}.route`, r);
}

function checkL4Common(m: { destinationSubnets?: string[]; port?: number; sourceLabels?: Record<string, string>; gateways?: string[] }, p: string, r: Report): void {
  m.destinationSubnets?.forEach((s, k) => {
    if (!isIpOrCidr(s)) r.error(`${p}.destinationSubnets[${k}]`, `${s} is not a valid CIDR block or IP`);
  });
  if (m.port !== undefined && m.port !== 0) {
    const pp = portProblem(m.port);
    if (pp !== undefined) r.error(`${p}.port`, pp);
  }
  checkSelectorLabels(m.sourceLabels, `${p}.sourceLabels`, r);
  m.gateways?.forEach((g, k) => checkGatewayName(g, `${p}.gateways[${k}]`, r));
}

function checkRouteDestinations(routes: RouteDestination[] | undefined, path: string, r: Report): void {
  if (routes === undefined) return;
  routes.forEach((d, i) => checkDestination(d.destination, `${path}[${i}].destination`, r));
  checkTotalWeight(routes, path, r);
}
