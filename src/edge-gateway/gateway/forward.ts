/**
 * Executes a forward plan: load balancing, the route timeout, retries with per-try timeouts and
 * backoff, connection-pool overflow, and the mapping of failures to Istio's codes and flags.
 */
import { SpanKind, SpanStatusCode, type SpanContext } from "@opentelemetry/api";
import { applyHeaderOps, retryDecision, type AttemptOutcome, type ForwardPlan, type PickContext, type UpstreamEndpoint } from "../../core/routing/index.ts";
import type { CompiledGateway } from "./compiled-gateway.ts";
import { REPLY, type LocalReply } from "./local-reply.ts";
import type { GatewayPlatform } from "./platform.ts";
import type { ResponseFlag } from "./response-flags.ts";
import { endpointsOf, upstreamTarget, UnsupportedUpstreamTlsError } from "./upstream-target.ts";
import type { RecordingTracer } from "../telemetry/recording-tracer.ts";
import { formatTraceparent } from "../telemetry/trace-context.ts";

export interface ForwardInput {
  plan: ForwardPlan;
  compiled: CompiledGateway;
  method: string;
  /** Request headers after authentication header ops (lowercase names); each attempt builds its own Headers from them. */
  headers: readonly (readonly [string, string])[];
  body: ArrayBuffer | null;
  platform: GatewayPlatform;
  tracer: RecordingTracer;
  /** The request's server span: each attempt's client span is its child. */
  parent: SpanContext;
  rng: () => number;
  /**
   * The client's signal: aborts when the downstream connection closes before the response is sent
   * (see `RequestInfo.downstream`). The in-flight attempt is cancelled with it and no retry follows.
   */
  downstream?: AbortSignal | undefined;
}

export interface ForwardResult {
  /**
   * The upstream's response as a new Response (its status, status text, headers and body) whose
   * headers the gateway may change: a fetched response's headers are immutable.
   */
  response?: Response;
  /** `response.status` and `response.headers`, read once (the gateway adds its own headers to them). */
  responseStatus?: number;
  responseHeaders?: Headers;
  local?: LocalReply;
  /**
   * The client went away first (Envoy's router resets the upstream request, starts no retry and
   * logs response code 0 with flag `DC`): nothing reaches the client.
   */
  downstreamDisconnected?: true;
  flags: ResponseFlag[];
  upstreamHost?: string;
  upstreamServiceTimeMs?: number;
  attempts: number;
  endpoint?: UpstreamEndpoint;
}

class OverallTimeout extends Error {}
/** The reason the overall signal aborts with when the client goes away under a route timeout. */
class DownstreamDisconnect extends Error {}
const CLIENT_SPAN = { kind: SpanKind.CLIENT };
class PerTryTimeout extends Error {}

/** Overflow threshold from `connectionPool` (Envoy: max requests for HTTP/2, connections + pending for HTTP/1). */
function maxInflight(plan: ForwardPlan): number {
  const cp = plan.cluster.trafficPolicy.connectionPool;
  if (cp === undefined) return Number.POSITIVE_INFINITY;
  const limits: number[] = [];
  if (cp.http?.http2MaxRequests !== undefined && cp.http.http2MaxRequests > 0) limits.push(cp.http.http2MaxRequests);
  if (cp.tcp?.maxConnections !== undefined && cp.tcp.maxConnections > 0) limits.push(cp.tcp.maxConnections + Math.max(0, cp.http?.http1MaxPendingRequests ?? 0));
  return limits.length === 0 ? Number.POSITIVE_INFINITY : Math.min(...limits);
}

interface AttemptSignal {
  signal: AbortSignal | undefined;
  timedOut(): boolean;
  dispose(): void;
}

const NO_TIMEOUT: AttemptSignal = { signal: undefined, timedOut: () => false, dispose() {} };

/** The signal of one try: the route's overall deadline, plus the per-try timeout when set. */
function attemptSignal(overall: AbortSignal | undefined, perTryMs: number | undefined): AttemptSignal {
  if (perTryMs === undefined || perTryMs <= 0) return overall === undefined ? NO_TIMEOUT : { signal: overall, timedOut: () => false, dispose() {} };
  const perTry = new AbortController();
  const timer = setTimeout(() => perTry.abort(new PerTryTimeout()), perTryMs);
  return { signal: overall === undefined ? perTry.signal : AbortSignal.any([overall, perTry.signal]), timedOut: () => perTry.signal.aborted, dispose: () => clearTimeout(timer) };
}

/** Names every attempt sets itself (a client's own values never travel); `traceparent` too when the gateway traces. */
const ATTEMPT_SET = new Set(["host", "x-forwarded-host", "x-envoy-attempt-count"]);

/**
 * The headers of one attempt: the request's, the route's header operations, then what the
 * attempt sets (Host and `x-forwarded-host` = the planned authority; Host only where the runtime
 * sends it, see `GatewayPlatform.hostFromUrl`; the in-cluster hop's headers; `traceparent`
 * naming the attempt span when the gateway traces, else the client's as it came; the attempt
 * count, 1 on the first try). Without header operations this is a
 * plain list the runtime's Request builds its headers from directly (a Headers object would be
 * built and then copied once more).
 */
function attemptHeaders(base: ForwardInput["headers"], plan: ForwardPlan, targetHeaders: readonly (readonly [string, string])[], traceparent: string | undefined, retries: number, setHost: boolean): HeadersInit {
  const authority = plan.upstreamRequest.authority;
  const ops = plan.upstreamRequest.headerOps;
  if (ops.length > 0) {
    const headers = new Headers(base as [string, string][]);
    applyHeaderOps(headers, ops);
    if (setHost) headers.set("host", authority);
    else headers.delete("host");
    headers.set("x-forwarded-host", authority);
    for (const [k, v] of targetHeaders) headers.set(k, v);
    if (traceparent !== undefined) headers.set("traceparent", traceparent);
    headers.set("x-envoy-attempt-count", String(retries + 1));
    return headers;
  }
  // The names are unique here (the base comes from a Map and every name set below is skipped in
  // it), so a record carries the same headers; the runtime converts a record's own properties more
  // cheaply than a list of pairs. Null prototype: a header named `__proto__` stays a plain property.
  const record: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const e of base) {
    const k = e[0];
    if (ATTEMPT_SET.has(k)) continue;
    if (targetHeaders.length > 0 && targetHeaders.some((t) => t[0] === k)) continue;
    record[k] = e[1];
  }
  if (setHost) record["host"] = authority;
  record["x-forwarded-host"] = authority;
  for (const t of targetHeaders) record[t[0]] = t[1];
  // Replaces the client's value (an own property already) when the gateway traces.
  if (traceparent !== undefined) record["traceparent"] = traceparent;
  // Istio sets include_request_attempt_count on every virtual host: Envoy sends the count on each try, 1 on the first.
  record["x-envoy-attempt-count"] = String(retries + 1);
  return record;
}

export async function forward(i: ForwardInput): Promise<ForwardResult> {
  const { plan, compiled, platform } = i;
  const state = compiled.cluster(plan.cluster);
  const endpoints = endpointsOf(plan);
  if (endpoints.length === 0) return { local: REPLY.noHealthyUpstream(), flags: ["UH"], attempts: 0 };
  if (state.inflight >= maxInflight(plan)) return { local: REPLY.overflow(), flags: ["UO"], attempts: 0 };

  // Only a route with a timeout pays for its own abort signal on its fetches. Without one, the
  // client's signal (when the runtime gives one) goes to each fetch as it is: no allocation; with
  // one, the client's going away aborts the route's controller (one listener, removed below).
  const downstream = i.downstream;
  const hasDeadline = plan.timeoutMs !== undefined && plan.timeoutMs > 0;
  const overall = hasDeadline ? new AbortController() : undefined;
  const overallTimer = overall === undefined ? undefined : setTimeout(() => overall.abort(new OverallTimeout()), plan.timeoutMs);
  const onDownstreamAbort = overall === undefined || downstream === undefined ? undefined : () => overall.abort(new DownstreamDisconnect());
  if (onDownstreamAbort !== undefined) downstream!.addEventListener("abort", onDownstreamAbort, { once: true });
  const base = overall?.signal ?? downstream;
  // Endpoints already tried (Envoy previous_hosts); only kept when there is another one to prefer.
  let tried: Set<UpstreamEndpoint> | undefined;
  const started = platform.clock.now();
  let retries = 0;
  let lastHost: string | undefined;
  state.inflight++;
  try {
    for (;;) {
      const pick: PickContext = {};
      if (plan.hashKey !== undefined) pick.hashKey = plan.hashKey;
      if (plan.retry.retryIgnorePreviousHosts && tried !== undefined && tried.size < endpoints.length) {
        const seen = tried;
        pick.exclude = (e: UpstreamEndpoint) => seen.has(e);
      }
      const ep = state.balancer.pick(endpoints, pick);
      if (ep === undefined) return { local: REPLY.noHealthyUpstream(), flags: ["UH"], attempts: retries };
      if (endpoints.length > 1) (tried ??= new Set()).add(ep);
      // The span's name and attributes only when it records (a non-recording span keeps neither).
      const span = i.tracer.recording
        ? i.tracer.startChild(`${i.method} ${plan.cluster.host}`, { kind: SpanKind.CLIENT, attributes: { "upstream_cluster": plan.cluster.name, "http.request.method": i.method, "http.request.resend_count": retries } }, i.parent)
        : i.tracer.startChild("", CLIENT_SPAN, i.parent);
      let outcome: AttemptOutcome;
      let response: Response | undefined;
      let responseHeaders: Headers | undefined;
      let failure = "";
      let attempt: ReturnType<typeof attemptSignal> | undefined;
      try {
        const t = upstreamTarget(plan, ep, compiled.nodeIngress, platform.svids);
        const target = t instanceof Promise ? await t : t;
        lastHost = target.host;
        span.setAttribute("server.address", target.host);
        const headers = attemptHeaders(i.headers, plan, target.headers, i.tracer.recording ? formatTraceparent(span.spanContext()) : undefined, retries, platform.hostFromUrl !== true);
        attempt = attemptSignal(base, plan.retry.perTryTimeoutMs);
        try {
          const init: RequestInit = { method: i.method, headers, redirect: "manual" };
          if (i.body !== null) init.body = i.body;
          if (attempt.signal !== undefined) init.signal = attempt.signal;
          const fetched = await platform.fetch(target.url, init);
          // The one copy the response needs, made here: with the fetched response as the init,
          // the runtime copies its status and headers natively (workerd builds no JS objects for
          // the fetched headers), and the retry decision reads the copy's headers.
          response = new Response(fetched.body, fetched);
        } finally {
          attempt.dispose();
        }
        const status = response.status;
        responseHeaders = response.headers;
        // The decision reads at most `grpc-status` and `x-envoy-ratelimited`, in place.
        outcome = { kind: "response", status, headers: responseHeaders };
        if (i.tracer.recording) {
          span.setAttribute("http.response.status_code", status);
          if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        }
      } catch (err) {
        // The client went away: Envoy resets the upstream request (the fetch was aborted with it)
        // and retries nothing.
        if (downstream?.aborted === true) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: "downstream connection termination" });
          span.end();
          return disconnected(retries + 1, lastHost, ep);
        }
        const reason = overall?.signal.aborted === true ? overall.signal.reason : err;
        if (reason instanceof OverallTimeout || overall?.signal.reason instanceof OverallTimeout) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: "upstream request timeout" });
          span.end();
          return { local: REPLY.timeout(["UT"]), flags: ["UT"], attempts: retries + 1, upstreamHost: lastHost ?? `${ep.address}:${ep.port}`, endpoint: ep };
        }
        if (err instanceof UnsupportedUpstreamTlsError) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
          span.end();
          return { local: REPLY.connectFailure(["UF"], err.message), flags: ["UF"], attempts: retries + 1, endpoint: ep };
        }
        const timedOut = attempt?.timedOut() === true || err instanceof PerTryTimeout || reason instanceof PerTryTimeout;
        outcome = timedOut ? { kind: "per-try-timeout" } : { kind: "connect-failure" };
        failure = timedOut ? "per-try timeout" : err instanceof Error ? err.message : String(err);
        span.setStatus({ code: SpanStatusCode.ERROR, message: failure });
      } finally {
        state.balancer.release(ep);
      }
      span.end();
      const decision = retryDecision(plan.retry, outcome, retries, i.rng);
      if (decision.retry) {
        await response?.body?.cancel();
        retries++;
        try {
          await platform.sleep(decision.backoffMs, base);
        } catch {
          if (downstream?.aborted === true) return disconnected(retries, lastHost, ep);
          return { local: REPLY.timeout(["UT"]), flags: ["UT"], attempts: retries, upstreamHost: lastHost ?? `${ep.address}:${ep.port}`, endpoint: ep };
        }
        continue;
      }
      // Envoy marks URX when the last try was itself retriable but the attempts ran out.
      const exhausted = retries > 0 && decision.reason === "retries exhausted";
      const flags: ResponseFlag[] = [];
      if (response !== undefined && responseHeaders !== undefined && outcome.kind === "response") {
        if (exhausted) flags.push("URX");
        return { response, responseStatus: outcome.status, responseHeaders, flags, attempts: retries + 1, upstreamHost: lastHost ?? `${ep.address}:${ep.port}`, upstreamServiceTimeMs: platform.clock.now() - started, endpoint: ep };
      }
      if (outcome.kind === "per-try-timeout") {
        flags.push("UT");
        if (exhausted) flags.push("URX");
        return { local: REPLY.timeout(flags), flags, attempts: retries + 1, upstreamHost: lastHost ?? `${ep.address}:${ep.port}`, endpoint: ep };
      }
      flags.push("UF");
      if (exhausted) flags.push("URX");
      return { local: REPLY.connectFailure(flags, failure), flags, attempts: retries + 1, upstreamHost: lastHost ?? `${ep.address}:${ep.port}`, endpoint: ep };
    }
  } finally {
    state.inflight--;
    if (overallTimer !== undefined) clearTimeout(overallTimer);
    if (onDownstreamAbort !== undefined) downstream!.removeEventListener("abort", onDownstreamAbort);
  }
}

function disconnected(attempts: number, lastHost: string | undefined, ep: UpstreamEndpoint): ForwardResult {
  return { downstreamDisconnected: true, flags: ["DC"], attempts, upstreamHost: lastHost ?? `${ep.address}:${ep.port}`, endpoint: ep };
}
