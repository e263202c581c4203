/**
 * The runtime-neutral edge gateway: one request in, one response out. Order follows an Istio
 * ingress gateway's filter chain: request validation, JWT authentication (claims may route),
 * route lookup, authorization (RBAC), rate limits, CORS, fault injection, then the router
 * (mirrors, load balancing, timeouts, retries). Workers and Deno entries wrap `handle`.
 */
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { applyAuthnResultToAuthz, type AuthnHeaderOp } from "../../core/policy/index.ts";
import { applyHeaderOps, corsPreflight, corsResponseHeaders, planRequest, type ForwardPlan, type HeaderOp, type RequestFacts } from "../../core/routing/index.ts";
import type { SnapshotState } from "../snapshot/snapshot-state.ts";
import type { CompiledGateway } from "./compiled-gateway.ts";
import { forward, type ForwardResult } from "./forward.ts";
import type { GatewayTelemetry } from "./gateway-telemetry.ts";
import { localReplyResponse, REPLY, type LocalReply } from "./local-reply.ts";
import { sendMirrors } from "./mirror.ts";
import type { GatewayPlatform } from "./platform.ts";
import { RESPONSE_FLAGS_HEADER, formatFlags, type ResponseFlag } from "./response-flags.ts";
import { validateRequest } from "./request-validation.ts";
import { RecordingTracer } from "../telemetry/recording-tracer.ts";
import { parseTraceparent, formatTraceparent, validTracestate } from "../telemetry/trace-context.ts";
import { formatAccessLog } from "../telemetry/access-log.ts";
import type { IstioRequestLabels } from "../telemetry/request-metrics.ts";

/** Largest request body the gateway buffers (bodies are buffered so retries and mirrors can resend them). */
export const MAX_REQUEST_BODY_BYTES = 16 * 1024 * 1024;

/** Hop-by-hop headers never forwarded (RFC 9110 §7.6.1). */
const HOP_BY_HOP = ["connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade", "proxy-authorization", "proxy-authenticate"];

export interface RequestInfo {
  /** Client address (Workers: `CF-Connecting-IP`; Deno: the socket peer). */
  clientIp?: string;
  /** Listener port (defaults to the URL's port or the scheme's default). */
  port?: number;
}

export interface EdgeGatewayOptions {
  state: SnapshotState<CompiledGateway>;
  telemetry: GatewayTelemetry;
  trustDomain: string;
  /** Namespace reported as `source_workload_namespace` (default `strait-system`). */
  namespace?: string;
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

export class EdgeGateway {
  private readonly rng: () => number;
  constructor(private readonly o: EdgeGatewayOptions) {
    this.rng = o.rng ?? Math.random;
  }

  /** What `/healthz` reports: in-memory state only, never a snapshot read. */
  health(): Record<string, unknown> {
    const s = this.o.state.status();
    return { ok: true, snapshotVersion: s.version ?? null, snapshot: s };
  }

  async handle(req: Request, platform: GatewayPlatform, info: RequestInfo = {}): Promise<Response> {
    const startMs = platform.clock.now();
    const url = new URL(req.url);
    const tracer = new RecordingTracer(() => platform.clock.now());
    const remote = parseTraceparent(req.headers.get("traceparent"), req.headers.get("tracestate"));
    const parentCtx = remote === undefined ? ROOT_CONTEXT : trace.setSpanContext(ROOT_CONTEXT, remote);
    const authority = req.headers.get("host") ?? url.host;
    const span = tracer.startSpan(`${authority}${url.pathname}`, { kind: SpanKind.SERVER, attributes: { "http.request.method": req.method, "url.path": url.pathname, "server.address": authority } }, parentCtx);
    const spanCtx = trace.setSpan(parentCtx, span);
    const requestId = validRequestId(req.headers.get("x-request-id")) ?? crypto.randomUUID();
    const out: Outcome = { status: 0, flags: [], details: null, routeName: null, upstreamHost: null, upstreamCluster: null, upstreamServiceTimeMs: null, destinationService: null, destinationNamespace: null, destinationWorkload: null, destinationPrincipal: null };
    let requestBytes = 0;
    let response: Response;
    try {
      const r = await this.route(req, url, authority, requestId, info, platform, tracer, spanCtx, out, (n) => (requestBytes = n));
      response = r;
    } catch (err) {
      // A bug or a runtime failure: a documented 500 (never the client's fault), logged with its message only.
      console.error("edge gateway: request failed", err instanceof Error ? err.message : String(err));
      const local: LocalReply = { status: 500, body: "internal gateway error", flags: [], details: "gateway_internal_error" };
      out.status = 500;
      out.details = local.details;
      response = localReplyResponse(local);
    }
    if (out.flags.length > 0) response.headers.set(RESPONSE_FLAGS_HEADER, formatFlags(out.flags));
    response.headers.set("x-request-id", requestId);
    span.setAttribute("http.response.status_code", out.status);
    span.setAttribute("response_flags", formatFlags(out.flags));
    if (out.routeName !== null) span.setAttribute("http.route", out.routeName);
    if (out.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });

    const finish = (bytesSent: number) => {
      const endMs = platform.clock.now();
      span.end(endMs);
      const duration = Math.max(0, endMs - startMs);
      const flagText = formatFlags(out.flags);
      if (this.o.telemetry.accessLogOn) {
        platform.accessLog(
          formatAccessLog({
            start_time: new Date(startMs).toISOString(),
            route_name: out.routeName,
            method: req.method,
            path: url.pathname + url.search,
            protocol: "HTTP/1.1",
            response_code: out.status,
            response_flags: flagText,
            response_code_details: out.details ?? "via_upstream",
            connection_termination_details: null,
            upstream_transport_failure_reason: null,
            bytes_received: requestBytes,
            bytes_sent: bytesSent,
            duration,
            upstream_service_time: out.upstreamServiceTimeMs,
            x_forwarded_for: req.headers.get("x-forwarded-for"),
            user_agent: req.headers.get("user-agent"),
            request_id: requestId,
            authority,
            upstream_host: out.upstreamHost,
            upstream_cluster: out.upstreamCluster,
            upstream_local_address: null,
            downstream_local_address: null,
            downstream_remote_address: info.clientIp ?? null,
            requested_server_name: null,
            trace_id: span.spanContext().traceId,
            ...(out.audit === undefined ? {} : { authz_audit: out.audit }),
          }),
        );
      }
      // Metrics exist to be exported: without a collector they are not aggregated at all.
      if (this.o.telemetry.exporting) this.o.telemetry.metrics.record(this.labels(out), duration, requestBytes, bytesSent);
      const flush = this.o.telemetry.flush(tracer.spans);
      if (flush !== undefined) platform.waitUntil(flush);
    };
    return countBody(response, finish, platform);
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

  private async route(
    req: Request,
    url: URL,
    authority: string,
    requestId: string,
    info: RequestInfo,
    platform: GatewayPlatform,
    tracer: RecordingTracer,
    spanCtx: ReturnType<typeof trace.setSpan>,
    out: Outcome,
    setRequestBytes: (n: number) => void,
  ): Promise<Response> {
    const local = (r: LocalReply, extraHeaders: [string, string][] = []): Response => {
      out.status = r.status;
      out.flags.push(...r.flags);
      out.details = r.details;
      const res = localReplyResponse(r);
      for (const [k, v] of extraHeaders) res.headers.append(k, v);
      return res;
    };
    const invalid = validateRequest(req, url);
    if (invalid !== undefined) return local(invalid);

    const compiled = await this.o.state.current((p) => platform.waitUntil(p));
    if (compiled === undefined) {
      const s = this.o.state.status();
      return local(s.lastError === undefined ? REPLY.noRoute() : REPLY.noSnapshot(s.lastError.message));
    }

    const headers = new Map<string, string>();
    req.headers.forEach((v, k) => headers.set(k.toLowerCase(), v));
    const scheme = url.protocol === "https:" ? "https" : "http";
    const port = info.port ?? (url.port === "" ? (scheme === "https" ? 443 : 80) : Number(url.port));
    const pathAndQuery = url.pathname + url.search;

    // RequestAuthentication runs first: claims may route, and outputClaimToHeaders overwrites client headers before routing.
    let claims: Record<string, unknown> | undefined;
    let auth: ReturnType<typeof applyAuthnResultToAuthz>;
    let removeQuery: string[] = [];
    const authnOps: AuthnHeaderOp[] = [];
    if (compiled.authn.active) {
      const result = await compiled.authn.authenticate({ headers, url: pathAndQuery });
      if (result.kind === "invalid") return local(REPLY.jwtInvalid(result.message));
      authnOps.push(...result.requestHeaders);
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

    const facts: RequestFacts = {
      method: req.method,
      scheme,
      authority,
      path: removeQuery.length === 0 ? pathAndQuery : withoutParams(url, removeQuery),
      port,
      headers,
      ...(info.clientIp === undefined ? {} : { sourceIp: info.clientIp }),
      ...(claims === undefined ? {} : { claims }),
    };
    const plan = planRequest(compiled.routes, facts, this.rng);
    if ("route" in plan && plan.route !== undefined) out.routeName = plan.route.name ?? `${plan.route.source.namespace}.${plan.route.source.name}.${plan.route.source.index}`;

    // Authorization (RBAC) sees every request, routed or not, as Envoy's RBAC filter does.
    const decision = compiled.authz.evaluate({
      source: { ...(info.clientIp === undefined ? {} : { ip: info.clientIp, remoteIp: info.clientIp }) },
      request: { host: authority, method: req.method, path: facts.path, headers, ...(auth === undefined ? {} : { auth }) },
      destination: { port },
    });
    if (decision.audit) out.audit = decision.auditPolicy ?? "audit";
    if (!decision.allow) return local(REPLY.rbacDenied(decision.policy));

    switch (plan.kind) {
      case "no-route":
        return local(REPLY.noRoute());
      case "no-cluster":
        return local(REPLY.noCluster(plan.reason));
      case "redirect": {
        out.status = plan.status;
        out.details = "redirect";
        const h = new Headers({ location: plan.location });
        applyHeaderOps(h, plan.responseHeaderOps);
        if (plan.cors !== undefined) for (const [k, v] of corsResponseHeaders(plan.cors, facts)) h.set(k, v);
        return new Response(null, { status: plan.status, headers: h });
      }
      case "direct-response": {
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
        if (!hit.allowed) return local(REPLY.rateLimited(hit.retryAfterSeconds));
      }
    }

    // CORS preflight is answered here (or forwarded for origins it does not allow).
    if (plan.cors !== undefined) {
      const pre = corsPreflight(plan.cors, facts);
      if (pre.kind === "respond") {
        out.status = pre.status;
        out.details = "cors_preflight";
        return new Response(null, { status: pre.status, headers: pre.headers });
      }
    }

    if (plan.fault?.delayMs !== undefined) {
      out.flags.push("DI");
      await platform.sleep(plan.fault.delayMs);
    }
    if (plan.fault?.abort !== undefined) {
      const status = "status" in plan.fault.abort ? plan.fault.abort.status : 503;
      const r = local(REPLY.faultAbort(status));
      if ("grpcStatus" in plan.fault.abort) r.headers.set("grpc-status", plan.fault.abort.grpcStatus);
      return r;
    }

    let body: ArrayBuffer | null = null;
    if (req.body !== null && req.method !== "GET" && req.method !== "HEAD") {
      const declared = Number(req.headers.get("content-length") ?? "0");
      if (declared > MAX_REQUEST_BODY_BYTES) return local(REPLY.badRequest(`request body is larger than ${MAX_REQUEST_BODY_BYTES} bytes`, 413));
      body = await req.arrayBuffer();
      if (body.byteLength > MAX_REQUEST_BODY_BYTES) return local(REPLY.badRequest(`request body is larger than ${MAX_REQUEST_BODY_BYTES} bytes`, 413));
    }
    setRequestBytes(body?.byteLength ?? 0);

    const upstreamHeaders = upstreamRequestHeaders(req, headers, authnOps, requestId, info, scheme);
    if (plan.mirrors.length > 0) sendMirrors(plan.mirrors, plan, compiled, req.method, upstreamHeaders, body, platform);
    const result = await forward({ plan, compiled, method: req.method, headers: upstreamHeaders, body, platform, tracer, parent: spanCtx, rng: this.rng });
    return this.respond(result, plan, facts, out, local);
  }

  private respond(result: ForwardResult, plan: ForwardPlan, facts: RequestFacts, out: Outcome, local: (r: LocalReply) => Response): Response {
    out.upstreamHost = result.upstreamHost ?? null;
    out.destinationWorkload = result.endpoint?.workload?.split("/")[1] ?? null;
    out.destinationPrincipal = result.endpoint?.spiffeId ?? null;
    if (result.local !== undefined) {
      const r = local(result.local);
      return r;
    }
    const upstream = result.response!;
    out.status = upstream.status;
    out.flags.push(...result.flags);
    out.upstreamServiceTimeMs = result.upstreamServiceTimeMs ?? null;
    const h = new Headers(upstream.headers);
    applyHeaderOps(h, plan.responseHeaderOps);
    if (plan.cors !== undefined) for (const [k, v] of corsResponseHeaders(plan.cors, facts)) h.set(k, v);
    if (plan.setCookie !== undefined) {
      const c = plan.setCookie;
      h.append("set-cookie", `${c.name}=${c.value}; Max-Age=${c.maxAgeSeconds}${c.path === undefined ? "" : `; Path=${c.path}`}${c.attributes.map((a) => `; ${a.name}${a.value === undefined ? "" : `=${a.value}`}`).join("")}; HttpOnly`);
    }
    if (result.upstreamServiceTimeMs !== undefined) h.set("x-envoy-upstream-service-time", String(Math.round(result.upstreamServiceTimeMs)));
    return new Response(upstream.body, { status: upstream.status, statusText: upstream.statusText, headers: h });
  }
}

function withoutParams(url: URL, names: readonly string[]): string {
  const u = new URL(url.href);
  for (const n of names) u.searchParams.delete(n);
  return u.pathname + u.search;
}

/** `x-request-id` from the client when it is a sane token, otherwise a fresh UUID. */
function validRequestId(v: string | null): string | undefined {
  return v !== null && /^[A-Za-z0-9._:-]{1,128}$/.test(v) ? v : undefined;
}

function upstreamRequestHeaders(req: Request, headers: Map<string, string>, _authnOps: readonly AuthnHeaderOp[], requestId: string, info: RequestInfo, scheme: string): Headers {
  const h = new Headers();
  for (const [k, v] of headers) if (!HOP_BY_HOP.includes(k) && k !== "host") h.set(k, v);
  for (const k of req.headers.get("connection")?.split(",").map((s) => s.trim().toLowerCase()) ?? []) h.delete(k);
  // Multi-valued headers (cookies etc.) as the client sent them, unless authentication rewrote them.
  h.set("x-request-id", requestId);
  h.set("x-forwarded-proto", scheme);
  if (info.clientIp !== undefined) {
    const xff = req.headers.get("x-forwarded-for");
    h.set("x-forwarded-for", xff === null ? info.clientIp : `${xff}, ${info.clientIp}`);
  }
  const state = validTracestate(req.headers.get("tracestate"));
  if (state === undefined) h.delete("tracestate");
  return h;
}

/** Counts response bytes (content-length when known, else as the body streams) and calls `done` once. */
function countBody(res: Response, done: (bytes: number) => void, platform: GatewayPlatform): Response {
  const cl = res.headers.get("content-length");
  if (res.body === null || cl !== null) {
    done(res.body === null ? 0 : Number(cl));
    return res;
  }
  let bytes = 0;
  let resolve!: () => void;
  const finished = new Promise<void>((r) => (resolve = r));
  const counter = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, c) {
      bytes += chunk.byteLength;
      c.enqueue(chunk);
    },
    flush() {
      resolve();
    },
  });
  platform.waitUntil(finished.then(() => done(bytes)));
  return new Response(res.body.pipeThrough(counter), { status: res.status, statusText: res.statusText, headers: res.headers });
}

export type { HeaderOp };
export { formatTraceparent };
