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
import { hostMatches, MESH_GATEWAY } from "../hosts.ts";
import {
  checkDns1123Label,
  checkDns1123Subdomain,
  checkExportTo,
  checkFaultPercent,
  checkHeaderName,
  checkHost,
  checkRegex,
  checkSelectorLabels,
  checkStringMatch,
  checkWeights,
  isIpOrCidr,
  labelsShape,
  percentShape,
  portNumberShape,
  portSelectorShape,
  stringListShape,
  stringMatchShape,
} from "./common.ts";
import { isIstioDns1123Label, wildcardDomainProblem } from "./istio-names.ts";
import type { KindValidator, ValidationContext } from "./kind-validator.ts";
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
  port: portNumberShape,
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
    port: portNumberShape,
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
            port: portNumberShape,
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
          port: portNumberShape,
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

/** Envoy retry_on policies Istio accepts (besides integer status codes). */
const RETRY_ON = new Set([
  "5xx", "gateway-error", "reset", "reset-before-request", "connect-failure", "envoy-ratelimited", "retriable-4xx", "refused-stream",
  "retriable-status-codes", "retriable-headers", "http3-post-connect-failure",
  "cancelled", "deadline-exceeded", "internal", "resource-exhausted", "unavailable",
]);

const GRPC_STATUS = new Set([
  "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED",
]);

export const virtualServiceValidator: KindValidator<VirtualServiceSpec> = {
  shape,
  check(spec, ctx) {
    const r = ctx.report;
    const hosts = spec.hosts ?? [];
    const gateways = spec.gateways ?? [];
    const boundToMesh = gateways.length === 0 || gateways.includes(MESH_GATEWAY);
    if (hosts.length === 0) {
      // A delegate VS: only http routes, no gateways.
      if (gateways.length > 0) r.error("spec.gateways", "a delegate VirtualService (no hosts) must not set gateways");
      if (spec.tls !== undefined) r.error("spec.tls", "a delegate VirtualService (no hosts) must not set tls routes");
      if (spec.tcp !== undefined) r.error("spec.tcp", "a delegate VirtualService (no hosts) must not set tcp routes");
    }
    const seen = new Map<string, number>();
    hosts.forEach((h, i) => {
      const p = `spec.hosts[${i}]`;
      if (h === "*" && boundToMesh) r.error(p, `"*" is not allowed for a VirtualService bound to the mesh gateway`);
      else checkHost(h, p, r, { allowWildcard: true, allowStar: true });
      const key = h.toLowerCase();
      const prev = seen.get(key);
      if (prev !== undefined) r.error(p, `duplicate host ${JSON.stringify(h)} (also spec.hosts[${prev}])`);
      else seen.set(key, i);
    });
    gateways.forEach((g, i) => checkGatewayRef(g, `spec.gateways[${i}]`, r));
    checkExportTo(spec.exportTo, r);
    if ((spec.http?.length ?? 0) + (spec.tls?.length ?? 0) + (spec.tcp?.length ?? 0) === 0) {
      r.error("spec", "at least one of http, tls or tcp routes is required");
    }
    spec.http?.forEach((route, i) => checkHttpRoute(route, `spec.http[${i}]`, ctx));
    spec.tls?.forEach((route, i) => checkTlsRoute(route, `spec.tls[${i}]`, hosts, r));
    spec.tcp?.forEach((route, i) => checkTcpRoute(route, `spec.tcp[${i}]`, r));
  },
};

function checkGatewayRef(g: string, path: string, r: Report): void {
  if (g === MESH_GATEWAY) return;
  const slash = g.indexOf("/");
  if (slash < 0) {
    checkDns1123Subdomain(g, path, r);
    return;
  }
  const ns = g.slice(0, slash);
  const name = g.slice(slash + 1);
  if (ns !== "*" && ns !== ".") checkDns1123Label(ns, path, r);
  checkDns1123Subdomain(name, path, r);
}

function checkHttpRoute(route: HTTPRoute, path: string, ctx: ValidationContext): void {
  const r = ctx.report;
  const actions = (["route", "redirect", "directResponse", "delegate"] as const).filter((k) =>
    k === "route" ? (route.route?.length ?? 0) > 0 : route[k] !== undefined,
  );
  if (actions.length === 0) r.error(path, "one of route, redirect, directResponse or delegate is required");
  if (actions.length > 1) r.error(`${path}.${actions[1]}`, `only one of route, redirect, directResponse, delegate may be set (got ${actions.join(", ")})`);
  const terminal = route.redirect !== undefined ? "redirect" : route.directResponse !== undefined ? "directResponse" : undefined;
  if (terminal !== undefined) {
    if (route.rewrite !== undefined) r.error(`${path}.rewrite`, `rewrite cannot be combined with ${terminal}`);
    if (route.fault !== undefined) r.error(`${path}.fault`, `fault cannot be combined with ${terminal}`);
  }
  if (route.mirror !== undefined && route.mirrors !== undefined) r.error(`${path}.mirrors`, "mirror and mirrors are mutually exclusive");
  if (route.mirrorPercent !== undefined && route.mirrorPercentage !== undefined) {
    r.error(`${path}.mirrorPercent`, "mirrorPercent and mirrorPercentage are mutually exclusive");
  }

  route.match?.forEach((m, i) => checkHttpMatch(m, `${path}.match[${i}]`, r));
  route.route?.forEach((d, i) => {
    checkDestination(d.destination, `${path}.route[${i}].destination`, r);
    checkHeaderOps(d.headers, `${path}.route[${i}].headers`, r);
  });
  checkWeights(route.route, `${path}.route`, r);
  if (route.redirect !== undefined) checkRedirect(route.redirect, `${path}.redirect`, r);
  if (route.directResponse !== undefined) checkDirectResponse(route.directResponse, `${path}.directResponse`, r);
  if (route.delegate !== undefined) {
    const d = route.delegate;
    if (d.name === undefined || d.name === "") r.error(`${path}.delegate.name`, "required field is missing");
    else checkDns1123Subdomain(d.name, `${path}.delegate.name`, r);
    if (d.namespace !== undefined) checkDns1123Label(d.namespace, `${path}.delegate.namespace`, r);
  }
  if (route.rewrite !== undefined) checkRewrite(route.rewrite, `${path}.rewrite`, r);
  if (route.retries !== undefined) checkRetries(route.retries, `${path}.retries`, r);
  if (route.fault !== undefined) checkFault(route.fault, `${path}.fault`, r);
  if (route.mirror !== undefined) checkDestination(route.mirror, `${path}.mirror`, r);
  route.mirrors?.forEach((m, i) => checkDestination(m.destination, `${path}.mirrors[${i}].destination`, r));
  route.corsPolicy?.allowOrigins?.forEach((o, i) => checkStringMatch(o, `${path}.corsPolicy.allowOrigins[${i}]`, r, { allowEmpty: false }));
  checkHeaderOps(route.headers, `${path}.headers`, r);
}

function checkHttpMatch(m: HTTPMatchRequest, path: string, r: Report): void {
  for (const k of ["uri", "scheme", "method", "authority"] as const) {
    const sm = m[k];
    if (sm !== undefined) checkStringMatch(sm, `${path}.${k}`, r, { allowEmpty: false });
  }
  for (const k of ["headers", "withoutHeaders"] as const) {
    for (const [name, sm] of Object.entries(m[k] ?? {})) {
      const p = field(`${path}.${k}`, name);
      checkHeaderName(name, p, r);
      checkStringMatch(sm, p, r, { allowEmpty: true });
    }
  }
  for (const [name, sm] of Object.entries(m.queryParams ?? {})) {
    const p = field(`${path}.queryParams`, name);
    if (name === "") r.error(p, "query parameter name must not be empty");
    checkStringMatch(sm, p, r, { allowEmpty: true, allowStarRegex: true });
  }
  checkSelectorLabels(m.sourceLabels, `${path}.sourceLabels`, r);
  m.gateways?.forEach((g, i) => checkGatewayRef(g, `${path}.gateways[${i}]`, r));
  if (m.sourceNamespace !== undefined) checkDns1123Label(m.sourceNamespace, `${path}.sourceNamespace`, r);
}

/** Istio's `validateDestination`: host a (wildcard) domain but not `*`; subset a DNS label. */
export function checkDestination(d: Destination, path: string, r: Report): void {
  if (d.host === "*") r.error(`${path}.host`, `invalid destination host ${d.host}`);
  else {
    const hp = wildcardDomainProblem(d.host);
    if (hp !== undefined) r.error(`${path}.host`, hp);
  }
  if (d.subset !== undefined && !isIstioDns1123Label(d.subset)) r.error(`${path}.subset`, `subset name is invalid: ${d.subset}`);
}

function checkHeaderOps(h: Headers | undefined, path: string, r: Report): void {
  if (h === undefined) return;
  for (const dir of ["request", "response"] as const) {
    const ops = h[dir];
    if (ops === undefined) continue;
    for (const op of ["set", "add"] as const) {
      for (const name of Object.keys(ops[op] ?? {})) {
        if (name === "" || !/^:?[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(name)) r.error(field(`${path}.${dir}.${op}`, name), `invalid header name ${JSON.stringify(name)}`);
      }
    }
    ops.remove?.forEach((name, i) => {
      if (name === "") r.error(`${path}.${dir}.remove[${i}]`, "must not be empty");
    });
  }
}

function checkRedirect(red: HTTPRedirect, path: string, r: Report): void {
  if (red.uri === undefined && red.authority === undefined && red.port === undefined && red.derivePort === undefined && red.scheme === undefined && red.prefixRewrite === undefined) {
    r.error(path, "redirect must set at least one of uri, authority, scheme, port, derivePort or prefixRewrite");
  }
  if (red.uri !== undefined && red.prefixRewrite !== undefined) r.error(`${path}.prefixRewrite`, "uri and prefixRewrite are mutually exclusive");
  if (red.port !== undefined && red.derivePort !== undefined) r.error(`${path}.derivePort`, "port and derivePort are mutually exclusive");
  if (red.redirectCode !== undefined && (red.redirectCode < 300 || red.redirectCode > 399)) {
    r.error(`${path}.redirectCode`, `must be a 3xx status (got ${red.redirectCode})`);
  }
}

function checkDirectResponse(d: HTTPDirectResponse, path: string, r: Report): void {
  if (d.status < 200 || d.status > 599) r.error(`${path}.status`, `must be between 200 and 599 (got ${d.status})`);
  if (d.body?.string !== undefined && d.body.bytes !== undefined) r.error(`${path}.body`, "only one of string, bytes may be set");
  if (d.body?.bytes !== undefined && !/^[A-Za-z0-9+/]*={0,2}$/.test(d.body.bytes)) r.error(`${path}.body.bytes`, "must be base64");
}

function checkRewrite(rw: HTTPRewrite, path: string, r: Report): void {
  if (rw.uri === undefined && rw.uriRegexRewrite === undefined && rw.authority === undefined) {
    r.error(path, "rewrite must set uri, uriRegexRewrite or authority");
  }
  if (rw.uri !== undefined && rw.uriRegexRewrite !== undefined) r.error(`${path}.uriRegexRewrite`, "uri and uriRegexRewrite are mutually exclusive");
  const rr = rw.uriRegexRewrite;
  if (rr !== undefined) {
    if (rr.match === undefined || rr.match === "") r.error(`${path}.uriRegexRewrite.match`, "required field is missing");
    else checkRegex(rr.match, `${path}.uriRegexRewrite.match`, r);
    if (rr.rewrite === undefined) r.error(`${path}.uriRegexRewrite.rewrite`, "required field is missing");
  }
}

function checkRetries(retries: HTTPRetry, path: string, r: Report): void {
  if (retries.retryOn === undefined) return;
  retries.retryOn.split(",").forEach((raw) => {
    const policy = raw.trim();
    if (RETRY_ON.has(policy)) return;
    if (/^\d+$/.test(policy) && Number(policy) >= 100 && Number(policy) <= 599) return;
    r.error(`${path}.retryOn`, `${JSON.stringify(policy)} is not a valid retry policy or HTTP status code`);
  });
}

function checkFault(fault: HTTPFaultInjection, path: string, r: Report): void {
  if (fault.delay === undefined && fault.abort === undefined) r.error(path, "fault must set delay or abort");
  const delay = fault.delay;
  if (delay !== undefined) {
    const p = `${path}.delay`;
    if (delay.exponentialDelay !== undefined) r.error(`${p}.exponentialDelay`, "exponentialDelay is not supported yet");
    else if (delay.fixedDelay === undefined) r.error(`${p}.fixedDelay`, "required field is missing");
    if (delay.percentage !== undefined && delay.percent !== undefined) r.error(`${p}.percent`, "percent and percentage are mutually exclusive");
    checkFaultPercent(delay.percentage?.value, `${p}.percentage.value`, r);
    if (delay.percentage === undefined && delay.percent === undefined) r.warn(`${p}.percentage`, "no percentage set: the delay applies to 0% of requests");
  }
  const abort = fault.abort;
  if (abort !== undefined) {
    const p = `${path}.abort`;
    const kinds = (["httpStatus", "grpcStatus", "http2Error"] as const).filter((k) => abort[k] !== undefined);
    if (kinds.length === 0) r.error(p, "one of httpStatus or grpcStatus is required");
    else if (kinds.length > 1) r.error(`${p}.${kinds[1]}`, `only one of httpStatus, grpcStatus, http2Error may be set`);
    if (abort.http2Error !== undefined) r.error(`${p}.http2Error`, "http2Error is not supported yet");
    if (abort.httpStatus !== undefined && (abort.httpStatus < 200 || abort.httpStatus > 599)) r.error(`${p}.httpStatus`, `must be between 200 and 599 (got ${abort.httpStatus})`);
    if (abort.grpcStatus !== undefined && !GRPC_STATUS.has(abort.grpcStatus)) r.error(`${p}.grpcStatus`, `must be a gRPC status name like UNAVAILABLE (got ${JSON.stringify(abort.grpcStatus)})`);
    checkFaultPercent(abort.percentage?.value, `${p}.percentage.value`, r);
    if (abort.percentage === undefined) r.warn(`${p}.percentage`, "no percentage set: the abort applies to 0% of requests");
  }
}

function checkTlsRoute(route: TLSRoute, path: string, vsHosts: readonly string[], r: Report): void {
  if (route.match.length === 0) r.error(`${path}.match`, "at least one match is required");
  route.match.forEach((m, i) => {
    const p = `${path}.match[${i}]`;
    if (m.sniHosts.length === 0) r.error(`${p}.sniHosts`, "at least one SNI host is required");
    m.sniHosts.forEach((sni, j) => {
      const sp = `${p}.sniHosts[${j}]`;
      checkHost(sni, sp, r, { allowWildcard: true, allowStar: true });
      if (vsHosts.length > 0 && !vsHosts.some((h) => hostMatches(h, sni) || hostMatches(sni, h))) {
        r.error(sp, `SNI host ${JSON.stringify(sni)} is not covered by any of the VirtualService hosts`);
      }
    });
    checkL4Common(m, p, r);
  });
  checkRouteDestinations(route.route, `${path}.route`, r);
}

function checkTcpRoute(route: TCPRoute, path: string, r: Report): void {
  route.match?.forEach((m, i) => {
    const p = `${path}.match[${i}]`;
    checkL4Common(m, p, r);
    if (m.sourceSubnet !== undefined && !isIpOrCidr(m.sourceSubnet)) r.error(`${p}.sourceSubnet`, `must be an IP or CIDR (got ${JSON.stringify(m.sourceSubnet)})`);
  });
  checkRouteDestinations(route.route, `${path}.route`, r);
}

function checkL4Common(m: { destinationSubnets?: string[]; sourceLabels?: Record<string, string>; gateways?: string[]; sourceNamespace?: string }, p: string, r: Report): void {
  m.destinationSubnets?.forEach((s, k) => {
    if (!isIpOrCidr(s)) r.error(`${p}.destinationSubnets[${k}]`, `must be an IP or CIDR (got ${JSON.stringify(s)})`);
  });
  checkSelectorLabels(m.sourceLabels, `${p}.sourceLabels`, r);
  m.gateways?.forEach((g, k) => checkGatewayRef(g, `${p}.gateways[${k}]`, r));
  if (m.sourceNamespace !== undefined) checkDns1123Label(m.sourceNamespace, `${p}.sourceNamespace`, r);
}

function checkRouteDestinations(routes: RouteDestination[] | undefined, path: string, r: Report): void {
  if (routes === undefined || routes.length === 0) {
    r.error(path, "at least one route destination is required");
    return;
  }
  routes.forEach((d, i) => checkDestination(d.destination, `${path}[${i}].destination`, r));
  checkWeights(routes, path, r);
}
