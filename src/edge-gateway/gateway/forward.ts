/**
 * Executes a forward plan: load balancing, the route timeout, retries with per-try timeouts and
 * backoff, connection-pool overflow, and the mapping of failures to Istio's codes and flags.
 */
import { SpanKind, SpanStatusCode, type Context } from "@opentelemetry/api";
import { applyHeaderOps, retryDecision, type AttemptOutcome, type ForwardPlan, type UpstreamEndpoint } from "../../core/routing/index.ts";
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
  /** Request headers after authentication header ops (lowercase names). */
  headers: Headers;
  body: ArrayBuffer | null;
  platform: GatewayPlatform;
  tracer: RecordingTracer;
  parent: Context;
  rng: () => number;
}

export interface ForwardResult {
  response?: Response;
  local?: LocalReply;
  flags: ResponseFlag[];
  upstreamHost?: string;
  upstreamServiceTimeMs?: number;
  attempts: number;
  endpoint?: UpstreamEndpoint;
}

class OverallTimeout extends Error {}
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

/** The signal of one try: the route's overall deadline, plus the per-try timeout when set. */
function attemptSignal(overall: AbortSignal | undefined, perTryMs: number | undefined): { signal: AbortSignal | undefined; timedOut(): boolean; dispose(): void } {
  if (perTryMs === undefined || perTryMs <= 0) return { signal: overall, timedOut: () => false, dispose() {} };
  const perTry = new AbortController();
  const timer = setTimeout(() => perTry.abort(new PerTryTimeout()), perTryMs);
  return { signal: overall === undefined ? perTry.signal : AbortSignal.any([overall, perTry.signal]), timedOut: () => perTry.signal.aborted, dispose: () => clearTimeout(timer) };
}

export async function forward(i: ForwardInput): Promise<ForwardResult> {
  const { plan, compiled, platform } = i;
  const state = compiled.cluster(plan.cluster);
  const endpoints = endpointsOf(plan);
  if (endpoints.length === 0) return { local: REPLY.noHealthyUpstream(), flags: ["UH"], attempts: 0 };
  if (state.inflight >= maxInflight(plan)) return { local: REPLY.overflow(), flags: ["UO"], attempts: 0 };

  // Only a route with a timeout pays for an abort signal on its fetches.
  const overall = new AbortController();
  const hasDeadline = plan.timeoutMs !== undefined && plan.timeoutMs > 0;
  const overallTimer = hasDeadline ? setTimeout(() => overall.abort(new OverallTimeout()), plan.timeoutMs) : undefined;
  const tried = new Set<UpstreamEndpoint>();
  const started = platform.clock.now();
  let retries = 0;
  let lastHost: string | undefined;
  state.inflight++;
  try {
    for (;;) {
      const ep = state.balancer.pick(endpoints, {
        ...(plan.hashKey === undefined ? {} : { hashKey: plan.hashKey }),
        ...(plan.retry.retryIgnorePreviousHosts && tried.size > 0 && tried.size < endpoints.length ? { exclude: (e: UpstreamEndpoint) => tried.has(e) } : {}),
      });
      if (ep === undefined) return { local: REPLY.noHealthyUpstream(), flags: ["UH"], attempts: retries };
      tried.add(ep);
      const span = i.tracer.startSpan(`${i.method} ${plan.cluster.host}`, { kind: SpanKind.CLIENT, attributes: { "upstream_cluster": plan.cluster.name, "http.request.method": i.method, "http.request.resend_count": retries } }, i.parent);
      let outcome: AttemptOutcome;
      let response: Response | undefined;
      let failure = "";
      let attempt: ReturnType<typeof attemptSignal> | undefined;
      try {
        const target = await upstreamTarget(plan, ep, compiled.nodeIngress, platform.svids);
        lastHost = target.host;
        span.setAttribute("server.address", target.host);
        const headers = new Headers(i.headers);
        applyHeaderOps(headers, plan.upstreamRequest.headerOps);
        headers.set("host", plan.upstreamRequest.authority);
        // Workers derive Host from the URL; the planned authority always travels here too.
        headers.set("x-forwarded-host", plan.upstreamRequest.authority);
        for (const [k, v] of target.headers) headers.set(k, v);
        headers.set("traceparent", formatTraceparent(span.spanContext()));
        if (retries > 0) headers.set("x-envoy-attempt-count", String(retries + 1));
        attempt = attemptSignal(hasDeadline ? overall.signal : undefined, plan.retry.perTryTimeoutMs);
        try {
          const init: RequestInit = { method: i.method, headers, body: i.body, redirect: "manual" };
          if (attempt.signal !== undefined) init.signal = attempt.signal;
          response = await platform.fetch(new Request(target.url, init));
        } finally {
          attempt.dispose();
        }
        const responseHeaders = new Map<string, string>();
        response.headers.forEach((v, k) => responseHeaders.set(k.toLowerCase(), v));
        outcome = { kind: "response", status: response.status, headers: responseHeaders };
        span.setAttribute("http.response.status_code", response.status);
        if (response.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      } catch (err) {
        const reason = overall.signal.aborted ? overall.signal.reason : err;
        if (reason instanceof OverallTimeout || overall.signal.reason instanceof OverallTimeout) {
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
          await platform.sleep(decision.backoffMs, overall.signal);
        } catch {
          return { local: REPLY.timeout(["UT"]), flags: ["UT"], attempts: retries, upstreamHost: lastHost ?? `${ep.address}:${ep.port}`, endpoint: ep };
        }
        continue;
      }
      // Envoy marks URX when the last try was itself retriable but the attempts ran out.
      const exhausted = retries > 0 && decision.reason === "retries exhausted";
      const flags: ResponseFlag[] = [];
      if (response !== undefined) {
        if (exhausted) flags.push("URX");
        return { response, flags, attempts: retries + 1, upstreamHost: lastHost ?? `${ep.address}:${ep.port}`, upstreamServiceTimeMs: platform.clock.now() - started, endpoint: ep };
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
  }
}
