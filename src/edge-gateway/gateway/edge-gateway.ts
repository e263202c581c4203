/**
 * The runtime-neutral edge gateway: one request in, one response out. Order follows an Istio
 * ingress gateway's filter chain: request validation, JWT authentication (claims may route),
 * route lookup, authorization (RBAC), rate limits, fault injection, CORS, then the router
 * (mirrors, load balancing, timeouts, retries). Workers and Deno entries wrap `handle`.
 */
import { SpanKind, SpanStatusCode, type Span } from "@opentelemetry/api";
import { applyAuthnResultToAuthz, normalizeRequestPath, rejectedPathReason } from "../../core/policy/index.ts";
import { applyHeaderOps, corsPreflight, corsResponseHeaders, planRequest, type CorsPolicyPlan, type ForwardPlan, type HeaderOp, type RequestFacts } from "../../core/routing/index.ts";
import type { SnapshotState } from "../snapshot/snapshot-state.ts";
import type { CompiledGateway } from "./compiled-gateway.ts";
import { forward, type ForwardResult } from "./forward.ts";
import type { GatewayTelemetry } from "./gateway-telemetry.ts";
import { localReplyResponse, REPLY, type LocalReply } from "./local-reply.ts";
import { sendMirrors } from "./mirror.ts";
import type { GatewayPlatform } from "./platform.ts";
import { RESPONSE_FLAGS_HEADER, formatFlags, type ResponseFlag } from "./response-flags.ts";
import { headerLineBytes, validateRequest } from "./request-validation.ts";
import { RecordingTracer } from "../telemetry/recording-tracer.ts";
import { parseTraceparent, formatTraceparent, validTracestate } from "../telemetry/trace-context.ts";
import { randomUuid } from "../../core/random-ids.ts";
import { formatAccessLog } from "../telemetry/access-log.ts";
import { countedBody } from "../telemetry/counted-body.ts";
import type { IstioRequestLabels } from "../telemetry/request-metrics.ts";

/** Largest request body the gateway buffers (bodies are buffered so retries and mirrors can resend them). */
export const MAX_REQUEST_BODY_BYTES = 16 * 1024 * 1024;

/** Hop-by-hop headers never forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "proxy-authorization", "proxy-authenticate"]);
/** Set by the gateway on every upstream request, whatever the client sent. */
const GATEWAY_SET = new Set(["x-request-id", "x-forwarded-proto"]);
const SERVER_SPAN = { kind: SpanKind.SERVER };

export interface RequestInfo {
  /** Client address (Workers: `CF-Connecting-IP`; Deno: the socket peer). */
  clientIp?: string;
  /**
   * A request header carrying the client address (Workers: `cf-connecting-ip`, lowercase), read
   * from the gateway's one walk over the headers when `clientIp` is not given; `handle` then sets
   * `clientIp` on this object.
   */
  clientIpHeader?: string;
  /** Listener port (defaults to the URL's port or the scheme's default). */
  port?: number;
  /** `new URL(req.url)` when the entry already parsed it. */
  url?: URL;
  /** `url.pathname` when the entry already read it (each read builds a new string in workerd). */
  pathname?: string;
  /**
   * Aborts when the client goes away (its connection closes) before the response is sent; the
   * entry passes its runtime's (Workers: `request.signal` with the `enable_request_signal`
   * compatibility flag; Deno: `request.signal` of `deno serve`). The upstream attempt in flight is
   * cancelled with it, no retry follows, and the request is logged with code 0 and flag `DC`, as
   * Envoy does. Without it an upstream request runs to its end whatever the client does.
   */
  downstream?: AbortSignal;
  /**
   * Without `downstream`: the request's own `signal` aborts when the client goes away (Workers
   * with `enable_request_signal`), and the runtime ends the request's work by itself then unless
   * something holds it open. The gateway reads (and so tracks) that signal only where something
   * does: a route with mirrors, whose shadows run in `waitUntil`.
   */
  requestSignalOnDemand?: boolean;
}

export interface EdgeGatewayOptions {
  state: SnapshotState<CompiledGateway>;
  telemetry: GatewayTelemetry;
  trustDomain: string;
  /** Namespace reported as `source_workload_namespace` (default `strait-system`). */
  namespace?: string;
  /**
   * Returns the request's `x-request-id` on every response, upstream answers and local replies
   * (Envoy's `always_set_request_id_in_response`; default false, as in Envoy and Istio).
   */
  responseRequestId?: boolean;
  rng?: () => number;
}

interface Outcome {
  status: number;
  flags: ResponseFlag[];
  details: string | null;
  routeName: string | null;
  upstreamHost: string | null;
  upstreamCluster: string | null;
  upstreamServiceTimeMs: number | null;
  destinationService: string | null;
  destinationNamespace: string | null;
  destinationWorkload: string | null;
  destinationPrincipal: string | null;
  audit?: string;
}

/**
 * Bodies of known length from this size on are counted as they stream (a client leaving in the
 * middle is logged `DC`, as Envoy does); smaller ones are written at once and finished when their
 * response starts, so small responses pay no stream.
 */
export const COUNTED_LENGTH_MIN = 64 * 1024;

/**
 * The bytes a response's log line counts when it is finished as its response starts, or null when
 * its body is counted as it streams: no Content-Length, or a large one (COUNTED_LENGTH_MIN) whose
 * body is not encoded (a runtime may decode and re-encode a gzip body, so its bytes are not the
 * length).
 */
function bytesAtStart(res: Response, headers: Headers): number | null {
  if (res.body === null) return 0;
  const cl = headers.get("content-length");
  if (cl === null) return null;
  const length = Number(cl);
  if (length < COUNTED_LENGTH_MIN || !Number.isSafeInteger(length)) return length;
  const coding = headers.get("content-encoding")?.trim().toLowerCase();
  return coding === undefined || coding === "" || coding === "identity" ? null : length;
}

/** One request in flight: what its telemetry needs when it finishes. */
interface RequestRecord {
  req: Request;
  url: URL;
  /** `req.method`, `url.pathname`, `url.search`, read once (each is a runtime call). */
  method: string;
  pathname: string;
  search: string;
  sent: { connection: string | undefined; traceparent: string | undefined; tracestate: string | undefined; xForwardedFor: string | undefined };
  info: RequestInfo;
  platform: GatewayPlatform;
  startMs: number;
  authority: string;
  requestId: string;
  tracer: RecordingTracer;
  span: Span;
  out: Outcome;
  requestBytes: number;
  /**
   * Set by `respond` for an upstream response it already finished (flags and `x-request-id`
   * set): its body size when known, null when it must be counted as it streams.
   */
  knownBytes: number | null | undefined;
}

export class EdgeGateway {
  private readonly rng: () => number;
  /** Without an exporter every request shares one non-recording tracer (its spans are the invalid span). */
  private readonly idleTracer = new RecordingTracer(() => 0, false);
  constructor(private readonly o: EdgeGatewayOptions) {
    this.rng = o.rng ?? Math.random;
  }

  /**
   * Whether anything records requests (access log, metrics or traces): an entry whose runtime ends
   * a request's work by itself when the client goes away (workerd) hands the gateway the client's
   * signal only then — see src/edge-gateway/index.ts.
   */
  get observing(): boolean {
    return this.o.telemetry.observing;
  }

  /** What `/healthz` reports: in-memory state only, never a snapshot read. */
  health(): Record<string, unknown> {
    const s = this.o.state.status();
    return { ok: true, snapshotVersion: s.version ?? null, snapshot: s };
  }

  async handle(req: Request, platform: GatewayPlatform, info: RequestInfo = {}): Promise<Response> {
    const startMs = platform.clock.now();
    const url = info.url ?? new URL(req.url);
    // One walk over the request headers: the lowercase map routing, policy and forwarding read, and the size validation checks.
    const headers = new Map<string, string>();
    let headerBytes = 0;
    req.headers.forEach((v, k) => {
      headers.set(k, v);
      headerBytes += headerLineBytes(k, v);
    });
    if (info.clientIp === undefined && info.clientIpHeader !== undefined) {
      const ip = headers.get(info.clientIpHeader);
      if (ip !== undefined) info.clientIp = ip;
    }
    const authority = headers.get("host") ?? url.host;
    const method = req.method;
    // The URL parser has resolved dot segments and backslashes already; Envoy's normalize_path
    // (Istio's BASE normalization) also decodes percent-encoded unreserved characters, so
    // `/%61dmin` routes, is authorized and is forwarded as `/admin`. Only a path with an escape
    // can need it.
    const rawPathname = info.pathname ?? url.pathname;
    const pathname = rawPathname.includes("%") ? normalizeRequestPath(rawPathname) : rawPathname;
    const search = url.search;
    const telemetry = this.o.telemetry;
    // With a collector the gateway takes part in the trace: a server span (child of the client's
    // `traceparent`, or a new trace) and a client span per attempt, named in the upstream's
    // `traceparent`. Without one it takes no part, as Envoy without a tracing provider: the
    // client's `traceparent` and `tracestate` travel on unchanged and none is started (a span id
    // nobody records would cut the upstream's spans off from the client's).
    const tracer = telemetry.exporting ? new RecordingTracer(() => platform.clock.now(), true) : this.idleTracer;
    let span: Span;
    if (tracer.recording) {
      const traceparent = headers.get("traceparent");
      const remote = traceparent === undefined ? undefined : parseTraceparent(traceparent, headers.get("tracestate"));
      span = tracer.startChild(`${authority}${pathname}`, { kind: SpanKind.SERVER, attributes: { "http.request.method": method, "url.path": pathname, "server.address": authority } }, remote);
    } else {
      span = tracer.startChild("", SERVER_SPAN, undefined);
    }
    const requestId = validRequestId(headers.get("x-request-id")) ?? randomUuid();
    const out: Outcome = { status: 0, flags: [], details: null, routeName: null, upstreamHost: null, upstreamCluster: null, upstreamServiceTimeMs: null, destinationService: null, destinationNamespace: null, destinationWorkload: null, destinationPrincipal: null };
    // As the client sent them (authentication may rewrite the map before forwarding).
    const sent = { connection: headers.get("connection"), traceparent: headers.get("traceparent"), tracestate: headers.get("tracestate"), xForwardedFor: headers.get("x-forwarded-for") };
    const rec: RequestRecord = { req, url, method, pathname, search, sent, info, platform, startMs, authority, requestId, tracer, span, out, requestBytes: 0, knownBytes: undefined };
    let response: Response;
    try {
      response = await this.route(rec, headers, headerBytes);
    } catch (err) {
      // A bug or a runtime failure: a documented 500 (never the client's fault), logged with its message only.
      console.error("edge gateway: request failed", err instanceof Error ? err.message : String(err));
      const local: LocalReply = { status: 500, body: "internal gateway error", flags: [], details: "gateway_internal_error" };
      out.status = 500;
      out.details = local.details;
      response = localReplyResponse(local);
    }
    const known = rec.knownBytes;
    if (known === undefined) {
      const h = response.headers;
      if (out.flags.length > 0) h.set(RESPONSE_FLAGS_HEADER, formatFlags(out.flags));
      if (this.o.responseRequestId === true) h.set("x-request-id", requestId);
    }
    if (tracer.recording) {
      span.setAttribute("http.response.status_code", out.status);
      span.setAttribute("response_flags", formatFlags(out.flags));
      if (out.routeName !== null) span.setAttribute("http.route", out.routeName);
      if (out.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    }
    if (known === undefined || known === null) return this.countBody(response, rec, known);
    this.finish(rec, known);
    return response;
  }

  /** Telemetry of a finished request: span end, access log, metrics, and the export that is due (through `waitUntil`). */
  private finish(rec: RequestRecord, bytesSent: number): void {
    const telemetry = this.o.telemetry;
    // Neither a log line nor an export: nothing reads the end time or the sizes (spans only record when exporting).
    if (!telemetry.observing) return;
    const { out, req, span, platform } = rec;
    const endMs = platform.clock.now();
    span.end(endMs);
    const duration = Math.max(0, endMs - rec.startMs);
    if (telemetry.accessLogOn) {
      platform.accessLog(
        formatAccessLog({
          start_time: new Date(rec.startMs).toISOString(),
          route_name: out.routeName,
          method: rec.method,
          path: rec.pathname + rec.search,
          protocol: "HTTP/1.1",
          response_code: out.status,
          response_flags: formatFlags(out.flags),
          response_code_details: out.details ?? "via_upstream",
          connection_termination_details: null,
          upstream_transport_failure_reason: null,
          bytes_received: rec.requestBytes,
          bytes_sent: bytesSent,
          duration,
          upstream_service_time: out.upstreamServiceTimeMs,
          x_forwarded_for: req.headers.get("x-forwarded-for"),
          user_agent: req.headers.get("user-agent"),
          request_id: rec.requestId,
          authority: rec.authority,
          upstream_host: out.upstreamHost,
          upstream_cluster: out.upstreamCluster,
          upstream_local_address: null,
          downstream_local_address: null,
          downstream_remote_address: rec.info.clientIp ?? null,
          requested_server_name: null,
          trace_id: rec.tracer.recording ? span.spanContext().traceId : (parseTraceparent(rec.sent.traceparent)?.traceId ?? null),
          ...(out.audit === undefined ? {} : { authz_audit: out.audit }),
        }),
      );
    }
    // Metrics and spans exist to be exported: without a collector they are not aggregated at all.
    if (!telemetry.exporting) return;
    telemetry.metrics.record(this.labels(out), duration, rec.requestBytes, bytesSent);
    const flush = telemetry.flush(rec.tracer.spans);
    if (flush !== undefined) platform.waitUntil(flush);
  }

  /**
   * Counts response bytes and finishes the request once. A body that streams (no Content-Length,
   * or one of at least COUNTED_LENGTH_MIN bytes) is finished when it ends: a client that goes away
   * while it streams is logged as Envoy logs it, the upstream's code with `DC` and the bytes sent so
   * far; an upstream body that fails midway with `UC` and
   * `upstream_reset_after_response_started{connection_termination}`. A smaller body of known length
   * is finished when its response starts (counting it would put a stream on every response; it is
   * written at once), as is an encoded one (the runtime may decode and re-encode it, so its bytes
   * are not the Content-Length's).
   */
  private countBody(res: Response, rec: RequestRecord, known: null | undefined): Response {
    if (!this.o.telemetry.observing) return res;
    // null: `respond` already found that this body is counted as it streams.
    const atStart = known === null ? null : bytesAtStart(res, res.headers);
    const source = res.body;
    if (atStart !== null || source === null) {
      this.finish(rec, atStart ?? 0);
      return res;
    }
    const cl = res.headers.get("content-length");
    let finished!: () => void;
    rec.platform.waitUntil(new Promise<void>((r) => (finished = r)));
    const counted = countedBody(source, (how, bytes) => {
      // workerd aborts the client's signal first, and with it the upstream fetch (and so its body) it was given.
      if (how === "downstream-gone" || rec.info.downstream?.aborted === true) rec.out.flags.push("DC");
      else if (how === "upstream-failed") {
        rec.out.flags.push("UC");
        rec.out.details = "upstream_reset_after_response_started{connection_termination}";
      }
      this.finish(rec, bytes);
      finished();
    });
    const body = cl === null ? counted : rec.platform.sizedBody(counted, Number(cl));
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  }

  private labels(out: Outcome): IstioRequestLabels {
    const u = (v: string | null | undefined) => (v === null || v === undefined || v === "" ? "unknown" : v);
    const svc = out.destinationService;
    return {
      reporter: "source",
      source_workload: "strait-edge-gateway",
      source_workload_namespace: this.o.namespace ?? "strait-system",
      source_principal: `spiffe://${this.o.trustDomain}/edge/gateway`,
      source_app: "strait-edge-gateway",
      source_version: "unknown",
      source_cluster: "unknown",
      source_canonical_service: "strait-edge-gateway",
      source_canonical_revision: "latest",
      destination_workload: u(out.destinationWorkload),
      destination_workload_namespace: u(out.destinationNamespace),
      destination_principal: u(out.destinationPrincipal),
      destination_app: "unknown",
      destination_version: "unknown",
      destination_service: u(svc),
      destination_service_name: svc === null ? "unknown" : svc.split(".")[0]!,
      destination_service_namespace: u(out.destinationNamespace),
      destination_cluster: "unknown",
      destination_canonical_service: svc === null ? "unknown" : svc.split(".")[0]!,
      destination_canonical_revision: "latest",
      request_protocol: "http",
      response_code: String(out.status),
      grpc_response_status: "",
      response_flags: formatFlags(out.flags),
      connection_security_policy: "unknown",
    };
  }

  /** A local reply: the outcome records it, the response carries its flags (and `extraHeaders`). */
  private reply(out: Outcome, r: LocalReply, extraHeaders?: readonly [string, string][]): Response {
    out.status = r.status;
    out.flags.push(...r.flags);
    out.details = r.details;
    const res = localReplyResponse(r);
    if (extraHeaders !== undefined) for (const [k, v] of extraHeaders) res.headers.append(k, v);
    return res;
  }

  /**
   * A local reply made after a route was selected: Envoy's filter manager runs the route's
   * `finalizeResponseHeaders` on every local reply (`sendLocalReplyViaFilterChain`), so the
   * route's (and picked destination's) `headers.response` apply as they do to upstream responses.
   */
  private routeReply(out: Outcome, r: LocalReply, ops: readonly HeaderOp[] | undefined): Response {
    const res = this.reply(out, r);
    if (ops !== undefined && ops.length > 0) applyHeaderOps(res.headers, ops);
    return res;
  }

  private async route(rec: RequestRecord, headers: Map<string, string>, headerBytes: number): Promise<Response> {
    const { req, url, authority, info, platform, out, method } = rec;
    const invalid = validateRequest(method, rec.pathname, rec.search, headerBytes, authority);
    if (invalid !== undefined) return this.reply(out, invalid);

    const state = this.o.state;
    const compiled = state.ready(platform, rec.startMs) ?? (await state.current(platform));
    if (compiled === undefined) {
      const s = state.status();
      return this.reply(out, s.lastError === undefined ? REPLY.noRoute() : REPLY.noSnapshot(s.lastError.message));
    }

    const scheme = url.protocol === "https:" ? "https" : "http";
    const port = info.port ?? (url.port === "" ? (scheme === "https" ? 443 : 80) : Number(url.port));
    const pathAndQuery = rec.pathname + rec.search;

    // RequestAuthentication runs first: claims may route, and outputClaimToHeaders overwrites client headers before routing.
    let claims: Record<string, unknown> | undefined;
    let auth: ReturnType<typeof applyAuthnResultToAuthz> | undefined;
    let removeQuery: string[] = [];
    if (compiled.authn.active) {
      // The method lets CORS preflights through without a token check (Istio sets bypass_cors_preflight).
      const result = await compiled.authn.authenticate({ method, headers, url: pathAndQuery });
      if (result.kind === "invalid") return this.reply(out, REPLY.jwtInvalid(result.message));
      for (const op of result.requestHeaders) {
        if (op.op === "remove") headers.delete(op.name.toLowerCase());
        else headers.set(op.name.toLowerCase(), op.value);
      }
      if (result.kind === "authenticated") {
        claims = result.claims;
        auth = applyAuthnResultToAuthz(result);
        removeQuery = result.removeQueryParams;
      }
    }

    const facts: RequestFacts = { method, scheme, authority, path: removeQuery.length === 0 ? pathAndQuery : withoutParams(rec.pathname, url, removeQuery), port, headers };
    if (info.clientIp !== undefined) facts.sourceIp = info.clientIp;
    if (claims !== undefined) facts.claims = claims;
    const plan = planRequest(compiled.routes, facts, this.rng);
    if ("route" in plan && plan.route !== undefined) out.routeName = plan.route.name ?? `${plan.route.source.namespace}.${plan.route.source.name}.${plan.route.source.index}`;

    // Authorization (RBAC) sees every request, routed or not, as Envoy's RBAC filter does, with the policies of the Gateway that accepted it.
    const authz = compiled.authz.engineFor(port, scheme, authority);
    if (authz !== undefined) {
      const decision = authz.evaluate({
        source: info.clientIp === undefined ? {} : { ip: info.clientIp, remoteIp: info.clientIp },
        request: auth === undefined ? { host: authority, method, path: facts.path, headers } : { host: authority, method, path: facts.path, headers, auth },
        destination: { port },
      });
      if (decision.audit) out.audit = decision.auditPolicy ?? "audit";
      // Envoy finalizes every local reply with the selected route's response headers (the route is resolved before RBAC runs).
      if (!decision.allow) return this.routeReply(out, REPLY.rbacDenied(decision.policy), "responseHeaderOps" in plan ? plan.responseHeaderOps : undefined);
    }

    switch (plan.kind) {
      case "no-route":
        return this.reply(out, REPLY.noRoute());
      case "no-cluster":
        return this.reply(out, REPLY.noCluster(plan.reason));
      case "redirect": {
        // The CORS filter runs before the router answers a redirect or direct response.
        const preflight = corsPreflightResponse(plan, facts, out);
        if (preflight !== undefined) return preflight;
        out.status = plan.status;
        out.details = "redirect";
        const h = new Headers({ location: plan.location });
        applyHeaderOps(h, plan.responseHeaderOps);
        if (plan.cors !== undefined) for (const [k, v] of corsResponseHeaders(plan.cors, facts)) h.set(k, v);
        return new Response(null, { status: plan.status, headers: h });
      }
      case "direct-response": {
        const preflight = corsPreflightResponse(plan, facts, out);
        if (preflight !== undefined) return preflight;
        out.status = plan.status;
        out.details = "direct_response";
        const h = new Headers();
        if (plan.body !== undefined) h.set("content-type", "text/plain");
        applyHeaderOps(h, plan.responseHeaderOps);
        if (plan.cors !== undefined) for (const [k, v] of corsResponseHeaders(plan.cors, facts)) h.set(k, v);
        const nullBody = plan.status === 204 || plan.status === 304;
        return new Response(nullBody ? null : ((plan.body ?? null) as BodyInit | null), { status: plan.status, headers: h });
      }
      case "forward":
        break;
    }
    out.upstreamCluster = plan.cluster.name;
    out.destinationService = plan.cluster.host;
    out.destinationNamespace = plan.cluster.service?.namespace ?? null;

    // Global rate limits of the matched route.
    if (!compiled.rateLimits.empty) {
      const buckets = compiled.rateLimits.bucketsFor({
        virtualService: `${plan.route.source.namespace}/${plan.route.source.name}`,
        ...(plan.route.name === undefined ? {} : { routeName: plan.route.name }),
        headers,
        ...(info.clientIp === undefined ? {} : { clientIp: info.clientIp }),
      });
      for (const b of buckets) {
        const hit = await platform.rateLimiter.hit(b.key, b.limit, b.windowSeconds);
        if (!hit.allowed) return this.routeReply(out, REPLY.rateLimited(hit.retryAfterSeconds), plan.responseHeaderOps);
      }
    }

    // Istio's filter chain has the fault filter before CORS: a fault delays or aborts preflights too.
    if (plan.fault?.delayMs !== undefined) {
      out.flags.push("DI");
      await platform.sleep(plan.fault.delayMs);
    }
    if (plan.fault?.abort !== undefined) {
      const status = "status" in plan.fault.abort ? plan.fault.abort.status : 503;
      const r = this.routeReply(out, REPLY.faultAbort(status), plan.responseHeaderOps);
      if ("grpcStatus" in plan.fault.abort) r.headers.set("grpc-status", plan.fault.abort.grpcStatus);
      return r;
    }

    // CORS preflight is answered here (or forwarded for origins it does not allow).
    const preflight = corsPreflightResponse(plan, facts, out);
    if (preflight !== undefined) return preflight;

    let body: ArrayBuffer | null = null;
    if (method !== "GET" && method !== "HEAD" && req.body !== null) {
      const declared = Number(req.headers.get("content-length") ?? "0");
      if (declared > MAX_REQUEST_BODY_BYTES) return this.reply(out, REPLY.badRequest(`request body is larger than ${MAX_REQUEST_BODY_BYTES} bytes`, 413));
      body = await req.arrayBuffer();
      if (body.byteLength > MAX_REQUEST_BODY_BYTES) return this.reply(out, REPLY.badRequest(`request body is larger than ${MAX_REQUEST_BODY_BYTES} bytes`, 413));
    }
    rec.requestBytes = body?.byteLength ?? 0;

    const upstreamHeaders = upstreamRequestHeaders(rec, headers, scheme);
    if (plan.mirrors.length > 0) sendMirrors(plan.mirrors, plan, compiled, method, upstreamHeaders, body, platform);
    const result = await forward({ plan, compiled, method, headers: upstreamHeaders, body, platform, tracer: rec.tracer, parent: rec.span.spanContext(), rng: this.rng, downstream: info.downstream ?? (info.requestSignalOnDemand === true && plan.mirrors.length > 0 ? req.signal : undefined) });
    return this.respond(result, plan, facts, rec);
  }

  private respond(result: ForwardResult, plan: ForwardPlan, facts: RequestFacts, rec: RequestRecord): Response {
    const out = rec.out;
    out.upstreamHost = result.upstreamHost ?? null;
    out.destinationWorkload = result.endpoint?.workload?.split("/")[1] ?? null;
    out.destinationPrincipal = result.endpoint?.spiffeId ?? null;
    if (result.downstreamDisconnected === true) {
      // Envoy logs a request whose client went away before any response with code 0 and `DC`;
      // this response reaches no one (nothing is sent, so no bytes are counted).
      out.status = 0;
      out.flags.push("DC");
      out.details = "downstream_remote_disconnect";
      rec.knownBytes = 0;
      return new Response(null, { status: 499 });
    }
    if (result.local !== undefined) {
      // A router local reply (UF, UT, UH, UO): Envoy's filter manager applies the route's response
      // headers to it, and the CORS filter (which saw the request) adds its headers, as on an upstream response.
      const res = this.routeReply(out, result.local, plan.responseHeaderOps);
      if (plan.cors !== undefined) for (const [k, v] of corsResponseHeaders(plan.cors, facts)) res.headers.set(k, v);
      return res;
    }
    // Already a copy of the upstream's response with mutable headers (see `forward`): the gateway's changes go on it.
    const res = result.response!;
    out.status = result.responseStatus ?? res.status;
    for (const f of result.flags) out.flags.push(f);
    out.upstreamServiceTimeMs = result.upstreamServiceTimeMs ?? null;
    const h = result.responseHeaders ?? res.headers;
    applyHeaderOps(h, plan.responseHeaderOps);
    if (plan.cors !== undefined) for (const [k, v] of corsResponseHeaders(plan.cors, facts)) h.set(k, v);
    if (plan.setCookie !== undefined) {
      const c = plan.setCookie;
      h.append("set-cookie", `${c.name}=${c.value}; Max-Age=${c.maxAgeSeconds}${c.path === undefined ? "" : `; Path=${c.path}`}${c.attributes.map((a) => `; ${a.name}${a.value === undefined ? "" : `=${a.value}`}`).join("")}; HttpOnly`);
    }
    if (result.upstreamServiceTimeMs !== undefined) h.set("x-envoy-upstream-service-time", String(Math.round(result.upstreamServiceTimeMs)));
    // The gateway's own headers go on here too (no second pass over the response in `handle`).
    if (out.flags.length > 0) h.set(RESPONSE_FLAGS_HEADER, formatFlags(out.flags));
    if (this.o.responseRequestId === true) h.set("x-request-id", rec.requestId);
    if (!this.o.telemetry.observing) {
      // No log line and no metrics: the size is never read, and the body needs no counting stream.
      rec.knownBytes = 0;
      return res;
    }
    rec.knownBytes = bytesAtStart(res, h);
    return res;
  }
}

/** The CORS filter's answer to a preflight on a route with `corsPolicy` (undefined: not answered here, the request goes on). */
function corsPreflightResponse(plan: { cors?: CorsPolicyPlan }, facts: RequestFacts, out: Outcome): Response | undefined {
  if (plan.cors === undefined) return undefined;
  const pre = corsPreflight(plan.cors, facts);
  if (pre.kind !== "respond") return undefined;
  out.status = pre.status;
  out.details = "cors_preflight";
  return new Response(null, { status: pre.status, headers: pre.headers });
}

function withoutParams(pathname: string, url: URL, names: readonly string[]): string {
  const u = new URL(url.href);
  for (const n of names) u.searchParams.delete(n);
  return pathname + u.search;
}

let lastConnection: { value: string; tokens: ReadonlySet<string> } | undefined;

/**
 * The header names a `Connection` value lists (lowercase). Clients send the same value on
 * nearly every request (`keep-alive`), so the last one is remembered (a pure memo).
 */
function connectionTokens(value: string): ReadonlySet<string> {
  const last = lastConnection;
  if (last !== undefined && last.value === value) return last.tokens;
  const tokens = new Set(value.split(",").map((s) => s.trim().toLowerCase()));
  lastConnection = { value, tokens };
  return tokens;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** `x-request-id` from the client when it is a sane token, otherwise a fresh UUID. */
function validRequestId(v: string | undefined): string | undefined {
  return v !== undefined && REQUEST_ID.test(v) ? v : undefined;
}

/** The request headers sent upstream (before each attempt's own), as entries an attempt turns into its Headers. */
function upstreamRequestHeaders(rec: RequestRecord, headers: Map<string, string>, scheme: string): [string, string][] {
  const { info, requestId, sent } = rec;
  // Hop-by-hop headers, and those the client's Connection header names, are not forwarded.
  const named = sent.connection === undefined ? undefined : connectionTokens(sent.connection);
  const tracestateOk = validTracestate(sent.tracestate) !== undefined;
  const out: [string, string][] = [];
  for (const [k, v] of headers) {
    if (HOP_BY_HOP.has(k) || k === "host" || GATEWAY_SET.has(k) || named?.has(k) === true) continue;
    if (k === "tracestate" && !tracestateOk) continue;
    if (k === "x-forwarded-for" && info.clientIp !== undefined) continue;
    out.push([k, v]);
  }
  out.push(["x-request-id", requestId], ["x-forwarded-proto", scheme]);
  if (info.clientIp !== undefined) {
    const xff = sent.xForwardedFor;
    out.push(["x-forwarded-for", xff === undefined ? info.clientIp : `${xff}, ${info.clientIp}`]);
  }
  return out;
}

export type { HeaderOp };
export { formatTraceparent };
