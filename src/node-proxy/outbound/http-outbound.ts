/**
 * The outbound HTTP path: a request from a local workload to the explicit proxy (15001) is
 * planned with the routing core (VirtualService + DestinationRule), then executed here: fault,
 * circuit breaker, load balancing over non-ejected endpoints, tries over pooled HBONE with
 * per-try and route timeouts and retries, mirrors, response header operations, metrics and the
 * access log.
 */
import http, { type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import {
  applyHeaderOps,
  compileMeshRoutes,
  corsPreflight,
  corsResponseHeaders,
  planRequest,
  retryDecision,
  type AttemptOutcome,
  type CorsPolicyPlan,
  type ForwardPlan,
  type HeaderOp,
  type MeshRouteTable,
  type RequestFacts,
  type RequestPlan,
  type UpstreamEndpoint,
} from "../../core/routing/index.ts";
import { requestPath } from "../../core/policy/index.ts";
import type { NodeWorkload } from "../../core/snapshot/snapshot-model.ts";
import type { ConfigView, DataPlaneContext } from "../context.ts";
import type { ClusterRuntime, ClusterStates } from "../resilience/cluster-state.ts";
import { PoolOverflowError } from "../resilience/circuit-breaker.ts";
import type { UpstreamResult } from "../resilience/outlier-detector.ts";
import { ensureRequestId, forwardableHeaders, headerMap, headerSink, responseHeaders } from "./http-headers.ts";
import { HboneAgentPool, UpstreamConnectError } from "./hbone-agent-pool.ts";
import { hboneAddressOf } from "./node-address.ts";
import { connPolicyOf, type UpstreamConnPolicy } from "./pooled-agent.ts";
import { plainIp, sourceWorkload } from "./source-workload.ts";
import { readBody, type RequestBody } from "./request-body.ts";
import { bodylessStatus, isWebSocketUpgrade, relayUpgrade, socketReply, withUpgradeHeaders } from "./upgrade-relay.ts";
import { responseAnswer, socketAnswer, textAnswer, type LocalAnswer } from "./local-answer.ts";
import { bodyFailureFlag, type BodyFailureFlag } from "./body-failure.ts";

export interface OutboundHttpDeps {
  ctx: DataPlaneContext;
  clusters: ClusterStates;
  /** Keep-alive agents: HBONE streams to node proxies, plain HTTP to endpoints outside the mesh. */
  agents: HboneAgentPool;
  rng?: () => number;
}

/** What the access log and metrics record for one finished request. */
interface Outcome {
  code: number;
  flags: string;
  upstream?: UpstreamEndpoint;
  cluster?: string;
  route?: string;
  responseBytes: number;
  /** Bytes read from the client when not the request's Content-Length (an upgraded connection). */
  requestBytes?: number;
  destinationService: string;
}

function sleep(ms: number): Promise<void> {
  return new Promise<void>((r) => setTimeout(r, ms));
}

/**
 * Route tables by workload object. A view's workloads are its own objects, so this is a per-view
 * cache in front of `view.derive` that costs one WeakMap lookup per request instead of a key string.
 */
const routesByWorkload = new WeakMap<NodeWorkload, MeshRouteTable>();

/** The route table for one source workload, built once per config view. */
export function meshRoutesFor(view: ConfigView, w: NodeWorkload): MeshRouteTable {
  let table = routesByWorkload.get(w);
  if (table === undefined) {
    table = view.derive(`h5:mesh-routes:${w.namespace}/${w.name}`, (v) => compileMeshRoutes(v.snapshot, w.namespace, { sourceLabels: w.labels }));
    routesByWorkload.set(w, table);
  }
  return table;
}

const NO_HEADERS: ReadonlyMap<string, string> = new Map();

/** A fixed "random" draw for retry decisions that only ask whether an outcome is retriable. */
const NO_JITTER = (): number => 0;

/** Shared empty pick context (no hash key, nothing excluded): no allocation per request. */
const NO_PICK_CONTEXT = Object.freeze({});

/**
 * Node's agent derives a TLS server name from every request's options unless one is given; these
 * agents never speak TLS themselves (HBONE streams or plain TCP), so an empty one skips that work.
 */
const NO_SERVERNAME = { servername: "" } as const;

/** One try's upstream response, with the flag its body gets if it fails after the head was relayed. */
interface TryResponse {
  kind: "response";
  res: IncomingMessage;
  bodyFailure(): BodyFailureFlag;
}
type TryResult = TryResponse | { kind: "connect-failure" | "reset" | "per-try-timeout" };

/** Origin-form or absolute-form target -> authority + path; undefined when unusable. */
export function requestTarget(req: IncomingMessage): { authority: string; path: string } | { error: string } {
  const url = req.url ?? "";
  if (url.startsWith("/")) {
    const host = req.headers.host;
    if (host === undefined || host === "") return { error: "request has no Host header naming a service" };
    return { authority: host.toLowerCase(), path: url };
  }
  if (/^https:\/\//i.test(url)) return { error: "https:// targets are not proxied as plain requests; use CONNECT host:port" };
  if (!/^http:\/\//i.test(url)) return { error: "request target must be origin-form (/path) or absolute-form (http://host/path)" };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { error: "request target is not a valid absolute URL" };
  }
  if (parsed.username !== "" || parsed.password !== "") return { error: "request target must not carry credentials" };
  return { authority: parsed.host.toLowerCase(), path: `${parsed.pathname}${parsed.search}` };
}

/**
 * The Host sent upstream: the authority as the client wrote it (routing compares it lower-cased;
 * Envoy forwards :authority unchanged) unless the route rewrote it.
 */
function upstreamHost(req: IncomingMessage, planned: string): string {
  const url = req.url ?? "";
  const sent = url.startsWith("/") ? (req.headers.host ?? "") : (/^http:\/\/([^/?#]*)/i.exec(url)?.[1] ?? "");
  return sent.toLowerCase() === planned ? sent : planned;
}

function portOf(authority: string): number {
  const m = /:(\d{1,5})$/.exec(authority);
  return m === null ? 80 : Number(m[1]);
}

export class OutboundHttp {
  private readonly rng: () => number;

  constructor(private readonly d: OutboundHttpDeps) {
    this.rng = d.rng ?? Math.random;
  }

  handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.run(req, res).catch((err: unknown) => {
      this.d.ctx.logger.error("outbound request failed", { error: err instanceof Error ? err.message : String(err) });
      if (!res.headersSent) local(res, 500, "internal proxy error");
      else res.destroy();
    });
  };

  /** `Connection: Upgrade` requests (the server's `upgrade` event): WebSocket handshakes are proxied. */
  upgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on("error", () => socket.destroy());
    this.runUpgrade(req, socket, head).catch((err: unknown) => {
      this.d.ctx.logger.error("outbound upgrade failed", { error: err instanceof Error ? err.message : String(err) });
      socket.destroy();
    });
  };

  private async runUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const { ctx } = this.d;
    const started = performance.now();
    const startMs = ctx.clock.now();
    const view = ctx.config.current();
    if (view === undefined) return socketReply(socket, 503, "no configuration yet");
    const target = requestTarget(req);
    if ("error" in target) return socketReply(socket, 400, target.error);
    const path = requestPath(target.path);
    if (!path.ok) return socketReply(socket, 400, path.reason);
    target.path = path.path;
    const src = sourceWorkload(view, req.socket.remoteAddress, headerValue(req.headers["proxy-authorization"]));
    if (src.kind === "unknown") return socketReply(socket, 403, `unknown source workload: ${src.message}`);
    const w = src.workload;
    ensureRequestId(req.headers);
    const outcome = await this.upgradeOutcome(req, socket, head, target, w, view);
    this.record(req, target, w, outcome, started, startMs);
  }

  private async upgradeOutcome(req: IncomingMessage, socket: Duplex, head: Buffer, target: { authority: string; path: string }, w: NodeWorkload, view: ConfigView): Promise<Outcome> {
    const facts: RequestFacts = { method: req.method ?? "GET", scheme: "http", authority: target.authority, path: target.path, port: portOf(target.authority), headers: headerMap(req.headers), sourceIp: plainIp(req.socket.remoteAddress) };
    // Envoy refuses an upgrade it has no upgrade_config for (upgrade_failed); Istio configures websocket only.
    if (!isWebSocketUpgrade(req.headers)) {
      socketReply(socket, 403, `upgrade to ${String(req.headers.upgrade)} is not proxied (websocket only)`);
      return { code: 403, flags: "-", responseBytes: 0, destinationService: "unknown" };
    }
    const plan = planRequest(meshRoutesFor(view, w), facts, this.rng);
    if (plan.kind !== "forward") return routerAnswer(plan, facts, socketAnswer(socket));
    return withDelayFlag(plan, await this.upgradeForward(req, socket, head, plan, w, facts));
  }

  /** A WebSocket handshake the router forwards: the fault filter, then one try (Envoy does not retry an upgrade), then the relay. */
  private async upgradeForward(req: IncomingMessage, socket: Duplex, head: Buffer, plan: ForwardPlan, w: NodeWorkload, facts: RequestFacts): Promise<Outcome> {
    const base = { cluster: plan.cluster.name, route: routeName(plan.route), destinationService: plan.cluster.host };
    if (plan.fault?.delayMs !== undefined) await sleep(plan.fault.delayMs);
    if (plan.fault?.abort !== undefined) return { ...base, ...faultAbort(socketAnswer(socket), plan.fault.abort, plan.responseHeaderOps) };
    // A handshake is never a CORS preflight (that is an OPTIONS request): the CORS filter only adds its headers.
    const replyOps = routeReplyOps(plan, facts);
    const opsOnReply = (h: OutgoingHttpHeaders) => applyHeaderOps(headerSink(h), replyOps);
    const rt = this.d.clusters.of(plan.cluster);
    const ep = this.pick(rt, plan, new Set());
    if (ep === undefined) {
      textAnswer(socketAnswer(socket), 503, "no healthy upstream", "UH", replyOps);
      return { ...base, code: 503, flags: "UH", responseBytes: 0 };
    }
    const headers = withUpgradeHeaders(forwardableHeaders(req.headers), req.headers);
    headers.host = upstreamHost(req, plan.upstreamRequest.authority);
    if (headers["x-forwarded-proto"] === undefined) headers["x-forwarded-proto"] = "http";
    if (plan.upstreamRequest.headerOps.length > 0) applyHeaderOps(headerSink(headers), plan.upstreamRequest.headerOps);
    headers["x-envoy-attempt-count"] = "1";
    const up = http.request({ agent: this.agentFor(ep, w, plan.cluster), method: req.method ?? "GET", path: plan.upstreamRequest.path, headers, setHost: false, ...NO_SERVERNAME });
    try {
      const r = await relayUpgrade(socket, head, up, opsOnReply);
      return { ...base, code: r.code, flags: r.flags, responseBytes: r.bytesSent, requestBytes: r.bytesReceived, upstream: ep };
    } finally {
      rt.lb.release(ep);
    }
  }

  private async run(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { ctx } = this.d;
    const started = performance.now();
    const startMs = ctx.clock.now();
    const view = ctx.config.current();
    if (view === undefined) {
      local(res, 503, "no configuration yet");
      return;
    }
    const target = requestTarget(req);
    if ("error" in target) {
      local(res, 400, target.error);
      return;
    }
    // Istio's default path normalization (BASE) is Envoy's normalize_path on every connection
    // manager: routes match, and upstreams get, the normalized path; an encoded NUL is refused.
    const path = requestPath(target.path);
    if (!path.ok) {
      req.resume();
      local(res, 400, path.reason);
      return;
    }
    target.path = path.path;
    const src = sourceWorkload(view, req.socket.remoteAddress, headerValue(req.headers["proxy-authorization"]));
    if (src.kind === "unknown") {
      local(res, 403, `unknown source workload: ${src.message}`);
      ctx.metrics.count("outbound_unknown_source");
      return;
    }
    const w = src.workload;
    // Envoy's connection manager generates x-request-id before routing (generate_request_id), so
    // local replies and the access log carry the id the upstream sees; a caller's id is kept.
    ensureRequestId(req.headers);
    const headers = headerMap(req.headers);
    const facts: RequestFacts = { method: req.method ?? "GET", scheme: "http", authority: target.authority, path: target.path, port: portOf(target.authority), headers, sourceIp: plainIp(req.socket.remoteAddress) };
    const plan: RequestPlan = planRequest(meshRoutesFor(view, w), facts, this.rng);
    let outcome: Outcome;
    if (plan.kind === "forward") {
      outcome = withDelayFlag(plan, await this.forward(req, res, plan, w, facts));
    } else {
      outcome = routerAnswer(plan, facts, responseAnswer(res));
    }
    this.record(req, target, w, outcome, started, startMs);
  }

  /** Istio's request metrics (reporter=source) and the access-log line of one finished request. */
  private record(req: IncomingMessage, target: { authority: string; path: string }, w: NodeWorkload, outcome: Outcome, started: number, startMs: number): void {
    const { ctx } = this.d;
    const durationMs = performance.now() - started;
    const requestBytes = outcome.requestBytes ?? (Number(req.headers["content-length"] ?? 0) || 0);
    ctx.metrics.request(
      {
        reporter: "source",
        source_workload: w.name,
        source_principal: w.spiffeId,
        destination_service: outcome.destinationService,
        destination_principal: outcome.upstream?.spiffeId ?? "unknown",
        response_code: String(outcome.code),
        response_flags: outcome.flags,
        connection_security_policy: outcome.upstream?.placement !== undefined ? "mutual_tls" : "unknown",
      },
      { durationMs, requestBytes, responseBytes: outcome.responseBytes },
    );
    if (ctx.log.enabled === false) return;
    ctx.log.log({
      start_time: new Date(startMs).toISOString(),
      method: req.method ?? "",
      path: target.path,
      protocol: `HTTP/${req.httpVersion}`,
      response_code: outcome.code,
      response_flags: outcome.flags,
      bytes_received: requestBytes,
      bytes_sent: outcome.responseBytes,
      duration: Math.round(durationMs),
      authority: target.authority,
      ...(outcome.upstream ? { upstream_host: `${outcome.upstream.address}:${outcome.upstream.port}` } : {}),
      ...(outcome.cluster ? { upstream_cluster: outcome.cluster } : {}),
      ...(outcome.route ? { route_name: outcome.route } : {}),
      downstream_remote_address: `${plainIp(req.socket.remoteAddress)}:${req.socket.remotePort ?? 0}`,
      source_principal: w.spiffeId,
      ...(outcome.upstream?.spiffeId ? { destination_principal: outcome.upstream.spiffeId } : {}),
      connection_security_policy: outcome.upstream?.placement !== undefined ? "mutual_tls" : "unknown",
      ...(typeof req.headers["x-request-id"] === "string" ? { request_id: req.headers["x-request-id"] } : {}),
      ...(typeof req.headers.traceparent === "string" ? { traceparent: req.headers.traceparent } : {}),
      ...(typeof req.headers["user-agent"] === "string" ? { user_agent: req.headers["user-agent"] } : {}),
      reporter: "source",
    });
  }

  private async forward(req: IncomingMessage, res: ServerResponse, plan: ForwardPlan, w: NodeWorkload, facts: RequestFacts): Promise<Outcome> {
    const { ctx } = this.d;
    const rt = this.d.clusters.of(plan.cluster);
    const base = { cluster: plan.cluster.name, route: routeName(plan.route), destinationService: plan.cluster.host };
    if (plan.fault?.delayMs !== undefined) await sleep(plan.fault.delayMs);
    if (plan.fault?.abort !== undefined) {
      const aborted = faultAbort(responseAnswer(res), plan.fault.abort, plan.responseHeaderOps);
      req.resume();
      return { ...base, ...aborted };
    }

    // Istio's sidecar filter chain runs fault, then CORS, then the router: a preflight is answered
    // here (an origin the policy does not allow goes upstream under FORWARD), and the router's
    // answers (upstream or local) get the CORS headers for an allowed origin.
    let replyOps = plan.responseHeaderOps;
    if (plan.cors !== undefined) {
      const preflight = answerPreflight(responseAnswer(res), plan.cors, facts);
      if (preflight !== undefined) {
        req.resume();
        return { ...base, code: preflight, flags: "-", responseBytes: 0 };
      }
      replyOps = routeReplyOps(plan, facts);
    }

    let release: () => void;
    try {
      const slot = rt.breaker.acquire();
      release = typeof slot === "function" ? slot : await slot;
    } catch (err) {
      if (err instanceof PoolOverflowError) {
        ctx.metrics.count("upstream_overflow", { cluster: plan.cluster.name });
        local(res, 503, "upstream connect error or disconnect/reset before headers. reset reason: overflow", "UO", replyOps);
        req.resume();
        return { ...base, code: 503, flags: "UO", responseBytes: 0 };
      }
      throw err;
    }
    try {
      return await this.tries(req, res, plan, w, rt, base, replyOps);
    } finally {
      release();
    }
  }

  private async tries(
    req: IncomingMessage,
    res: ServerResponse,
    plan: ForwardPlan,
    w: NodeWorkload,
    rt: ClusterRuntime,
    base: { cluster: string; route: string; destinationService: string },
    replyOps: readonly HeaderOp[],
  ): Promise<Outcome> {
    const { ctx } = this.d;
    const body = await readBody(req);
    // Envoy's x-envoy-upstream-service-time counts from the end of the downstream request (retries included).
    const requestDone = performance.now();
    const headers = forwardableHeaders(req.headers);
    headers.host = upstreamHost(req, plan.upstreamRequest.authority);
    // Envoy's connection manager sets x-forwarded-proto to the downstream scheme when it is absent
    // and keeps a caller's (sidecars run with use_remote_address false). The listener is plain HTTP.
    if (headers["x-forwarded-proto"] === undefined) headers["x-forwarded-proto"] = "http";
    if (plan.upstreamRequest.headerOps.length > 0) applyHeaderOps(headerSink(headers), plan.upstreamRequest.headerOps);
    const parent = ctx.tracing.extract(req.headers);
    const { span, context } = ctx.tracing.startSpan(`${req.method ?? "GET"} ${plan.cluster.host}`, parent, { "upstream_cluster": plan.cluster.name });
    ctx.tracing.inject(context, headers as Record<string, string>);
    // Istio sets include_request_attempt_count on sidecar virtual hosts: every try (and the mirrors,
    // copied from the first) carries its number; a caller's value is replaced.
    headers["x-envoy-attempt-count"] = "1";
    // Envoy's router tells the upstream the time it has: the per-try timeout when it is the shorter, else the route's.
    const perTryMs = plan.retry.perTryTimeoutMs;
    const expectedMs = perTryMs !== undefined && (plan.timeoutMs === undefined || perTryMs < plan.timeoutMs) ? perTryMs : plan.timeoutMs;
    if (expectedMs !== undefined) headers["x-envoy-expected-rq-timeout-ms"] = String(expectedMs);

    for (const m of plan.mirrors) this.mirror(m.cluster, m.authority === plan.upstreamRequest.authority ? String(headers.host) : m.authority, req.method ?? "GET", plan.upstreamRequest.path, headers, body, w);

    const deadline = plan.timeoutMs === undefined ? undefined : performance.now() + plan.timeoutMs;
    const tried = new Set<string>();
    const canRetry = body.kind === "buffered";
    let retries = 0;
    let retried = false;
    let stopFlag: "URX" | "UO" | undefined;
    try {
      for (;;) {
        const ep = this.pick(rt, plan, tried);
        if (ep === undefined) {
          local(res, 503, "no healthy upstream", "UH", replyOps);
          return { ...base, code: 503, flags: "UH", responseBytes: 0 };
        }
        const epKey = `${ep.address}:${ep.port}`;
        tried.add(epKey);
        const remaining = deadline === undefined ? undefined : deadline - performance.now();
        const perTry = plan.retry.perTryTimeoutMs;
        const tryTimeout = perTry === undefined ? remaining : remaining === undefined ? perTry : Math.min(perTry, remaining);
        headers["x-envoy-attempt-count"] = String(retries + 1);
        const result = await this.tryOnce(ep, w, plan.cluster, req.method ?? "GET", plan.upstreamRequest.path, headers, body, tryTimeout, res);
        if (result.kind !== "response") rt.lb.release(ep);
        const routeTimedOut = deadline !== undefined && performance.now() >= deadline;
        const mayRetry = canRetry && !routeTimedOut;
        // Response headers only matter to a retry decision (retriable headers); the outlier detector reads the status.
        const outcome: AttemptOutcome =
          result.kind === "response" ? { kind: "response", status: result.res.statusCode ?? 502, headers: mayRetry ? headerMap(result.res.headers) : NO_HEADERS } : { kind: result.kind };
        rt.outlier?.record(epKey, outlierResult(outcome), plan.cluster.endpoints.length);
        if (mayRetry) {
          const decision = retryDecision(plan.retry, outcome, retries, this.rng);
          const slot = decision.retry ? rt.breaker.tryRetry() : false;
          if (decision.retry && slot !== false) {
            if (result.kind === "response") {
              result.res.resume();
              rt.lb.release(ep);
            }
            retries++;
            retried = true;
            ctx.metrics.count("upstream_retry", { cluster: plan.cluster.name, reason: decision.reason });
            try {
              await sleep(decision.backoffMs);
            } finally {
              slot();
            }
            continue;
          }
          // Envoy flags a retriable answer it may not retry: URX when the attempts are used up,
          // UO when the cluster's maxRetries circuit breaker refused the retry.
          if (decision.retry) stopFlag = "UO";
          else if (decision.reason === "retries exhausted" && plan.retry.attempts > 0 && retryDecision({ ...plan.retry, attempts: retries + 1 }, outcome, retries, NO_JITTER).retry) stopFlag = "URX";
        }
        if (result.kind === "response") {
          try {
            const relayed = await this.relay(result, res, plan, replyOps, performance.now() - requestDone);
            if (stopFlag !== undefined) relayed.flags = relayed.flags === "-" ? stopFlag : `${stopFlag},${relayed.flags}`;
            return { ...base, ...relayed, upstream: ep };
          } finally {
            rt.lb.release(ep);
          }
        }
        if (routeTimedOut || result.kind === "per-try-timeout") {
          local(res, 504, "upstream request timeout", "UT", replyOps);
          return { ...base, code: 504, flags: "UT", responseBytes: 0, upstream: ep };
        }
        const flag = result.kind === "connect-failure" ? "UF" : "UC";
        const flags = retried ? `${flag},URX` : flag;
        local(res, 503, `upstream connect error or disconnect/reset before headers. reset reason: ${result.kind === "connect-failure" ? "connection failure" : "connection termination"}`, flags, replyOps);
        return { ...base, code: 503, flags, responseBytes: 0, upstream: ep };
      }
    } finally {
      span.end();
    }
  }

  private pick(rt: ClusterRuntime, plan: ForwardPlan, tried: ReadonlySet<string>): UpstreamEndpoint | undefined {
    const outlier = rt.outlier;
    const eps = plan.cluster.endpoints;
    // The common case (first try, no outlier detection, no hashing) allocates nothing.
    if (outlier === undefined && plan.hashKey === undefined && tried.size === 0) return rt.lb.pick(eps, NO_PICK_CONTEXT);
    const ejected = (ep: UpstreamEndpoint) => outlier !== undefined && outlier.isEjected(`${ep.address}:${ep.port}`);
    const hashKey = plan.hashKey;
    if (plan.retry.retryIgnorePreviousHosts && tried.size > 0) {
      const fresh = rt.lb.pick(eps, { ...(hashKey === undefined ? {} : { hashKey }), exclude: (ep) => ejected(ep) || tried.has(`${ep.address}:${ep.port}`) });
      if (fresh !== undefined) return fresh;
    }
    return rt.lb.pick(eps, { ...(hashKey === undefined ? {} : { hashKey }), exclude: ejected });
  }

  /** One try; resolves with the response head or how it failed (never rejects). */
  private tryOnce(
    ep: UpstreamEndpoint,
    w: NodeWorkload,
    cluster: ForwardPlan["cluster"],
    method: string,
    path: string,
    headers: OutgoingHttpHeaders,
    body: RequestBody,
    timeoutMs: number | undefined,
    downstream: ServerResponse,
  ): Promise<TryResult> {
    return new Promise((resolve) => {
      let settled = false;
      let timer: NodeJS.Timeout | undefined;
      // An error after the response arrived is its body failing; a malformed one is reported here first.
      let requestError: unknown;
      function settle(v: TryResult): void {
        if (settled) return;
        settled = true;
        if (timer !== undefined) clearTimeout(timer);
        resolve(v);
      }
      const agent = this.agentFor(ep, w, cluster);
      const up = http.request({ agent, method, path, headers, setHost: false, ...NO_SERVERNAME });
      up.on("response", (res) => settle({ kind: "response", res, bodyFailure: () => bodyFailureFlag(requestError) }));
      up.on("error", (err) => {
        requestError = err;
        settle({ kind: err instanceof UpstreamConnectError ? "connect-failure" : "reset" });
      });
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          settle({ kind: "per-try-timeout" });
          up.destroy();
        }, Math.max(timeoutMs, 0));
      }
      // The client went away before an answer: abandon the try (Envoy's DC).
      function onGone(): void {
        if (!settled && !downstream.writableFinished) up.destroy();
      }
      downstream.once("close", onGone);
      up.once("close", () => downstream.off("close", onGone));
      if (body.kind === "buffered") up.end(body.data);
      else body.stream.pipe(up);
    });
  }

  private readonly connPolicies = new WeakMap<ForwardPlan["cluster"], UpstreamConnPolicy>();
  /** Last agent used per endpoint object (endpoints belong to one compiled view): no key string per request. */
  private readonly agentByEndpoint = new WeakMap<UpstreamEndpoint, { cluster: ForwardPlan["cluster"]; source: string; agent: http.Agent }>();

  private agentFor(ep: UpstreamEndpoint, w: NodeWorkload, cluster: ForwardPlan["cluster"]): http.Agent {
    const hit = this.agentByEndpoint.get(ep);
    if (hit !== undefined && hit.cluster === cluster && hit.source === w.spiffeId) return hit.agent;
    const agent = this.agentForUncached(ep, w, cluster);
    this.agentByEndpoint.set(ep, { cluster, source: w.spiffeId, agent });
    return agent;
  }

  private agentForUncached(ep: UpstreamEndpoint, w: NodeWorkload, cluster: ForwardPlan["cluster"]): http.Agent {
    let policy = this.connPolicies.get(cluster);
    if (policy === undefined) {
      policy = connPolicyOf(cluster.trafficPolicy.connectionPool);
      this.connPolicies.set(cluster, policy);
    }
    if (ep.placement === undefined || ep.spiffeId === undefined) return this.d.agents.directFor({ host: ep.address, port: ep.port }, policy);
    return this.d.agents.agentFor(
      {
        source: w.spiffeId,
        target: hboneAddressOf(ep, this.d.ctx.settings.hbonePeerPort),
        authority: `${ep.address}:${ep.port}`,
        expectedPeer: ep.spiffeId,
      },
      policy,
    );
  }

  private relay(tried: TryResponse, res: ServerResponse, plan: ForwardPlan, replyOps: readonly HeaderOp[], serviceTimeMs: number): Promise<{ code: number; flags: string; responseBytes: number }> {
    const up = tried.res;
    const code = up.statusCode ?? 502;
    const h = responseHeaders(up.headers);
    // Envoy's router sets it on every upstream response (Istio leaves Envoy's headers on), before the route's response ops.
    h["x-envoy-upstream-service-time"] = String(Math.round(serviceTimeMs));
    if (replyOps.length > 0) applyHeaderOps(headerSink(h), replyOps);
    if (plan.setCookie !== undefined) {
      const c = plan.setCookie;
      const parts = [`${c.name}=${c.value}`, `Max-Age=${c.maxAgeSeconds}`];
      if (c.path !== undefined) parts.push(`Path=${c.path}`);
      for (const a of c.attributes) parts.push(a.value === undefined ? a.name : `${a.name}=${a.value}`);
      headerSink(h).append("set-cookie", parts.join("; "));
    }
    res.writeHead(code, h);
    let bytes = 0;
    up.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
    });
    return new Promise((resolve) => {
      up.pipe(res);
      up.once("end", () => resolve({ code, flags: "-", responseBytes: bytes }));
      up.once("error", () => {
        res.destroy();
        resolve({ code, flags: tried.bodyFailure(), responseBytes: bytes });
      });
      res.once("close", () => {
        if (!up.complete) {
          up.destroy();
          resolve({ code, flags: "DC", responseBytes: bytes });
        }
      });
    });
  }

  /** Fire-and-forget copy of the request to a mirror cluster; the answer is dropped. */
  private mirror(cluster: ForwardPlan["cluster"], authority: string, method: string, path: string, headers: OutgoingHttpHeaders, body: RequestBody, w: NodeWorkload): void {
    if (body.kind !== "buffered") return;
    const rt = this.d.clusters.of(cluster);
    const ep = rt.lb.pick(cluster.endpoints, rt.outlier ? { exclude: (e) => rt.outlier!.isEjected(`${e.address}:${e.port}`) } : {});
    if (ep === undefined) return;
    const up = http.request({ agent: this.agentFor(ep, w, cluster), method, path, headers: { ...headers, host: authority }, setHost: false, ...NO_SERVERNAME });
    up.on("response", (r) => {
      r.resume();
      r.on("end", () => rt.lb.release(ep));
    });
    up.on("error", () => rt.lb.release(ep));
    up.end(body.data);
    this.d.ctx.metrics.count("mirror_requests", { cluster: cluster.name });
  }
}

/** Answers a CORS preflight the policy decides locally (Envoy's CORS filter) and returns its status; undefined when the request goes on. */
function answerPreflight(answer: LocalAnswer, cors: CorsPolicyPlan, facts: RequestFacts): number | undefined {
  const pre = corsPreflight(cors, facts);
  if (pre.kind !== "respond") return undefined;
  const h: OutgoingHttpHeaders = {};
  setAll(h, pre.headers);
  answer.send(pre.status, h);
  return pre.status;
}

function setAll(h: OutgoingHttpHeaders, entries: readonly [string, string][]): void {
  for (const [k, v] of entries) h[k] = v;
}

function outlierResult(o: AttemptOutcome): UpstreamResult {
  switch (o.kind) {
    case "response":
      return { kind: "status", status: o.status };
    case "connect-failure":
      return { kind: "connect-failure" };
    default:
      return { kind: "reset" };
  }
}

function routeName(route: { name?: string; source: { namespace: string; name: string; index: number } }): string {
  return route.name ?? `${route.source.namespace}/${route.source.name}#${route.source.index}`;
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

const FAULT_ABORT_BODY = Buffer.from("fault filter abort");

/**
 * The fault filter's abort, as Envoy sends it: the status (200 for a gRPC abort, whose status goes in
 * `grpc-status`), `fault filter abort` with its Content-Length, flag FI, and the route's response
 * headers (Envoy finalizes every local reply with them).
 */
function faultAbort(answer: LocalAnswer, abort: NonNullable<NonNullable<ForwardPlan["fault"]>["abort"]>, routeOps: readonly HeaderOp[]): Pick<Outcome, "code" | "flags" | "responseBytes"> {
  const status = "status" in abort ? abort.status : 200;
  const h: OutgoingHttpHeaders = { "content-type": "text/plain", "x-envoy-response-flags": "FI" };
  if ("grpcStatus" in abort) h["grpc-status"] = abort.grpcStatus;
  if (routeOps.length > 0) applyHeaderOps(headerSink(h), routeOps);
  answer.send(status, h, FAULT_ABORT_BODY);
  return { code: status, flags: "FI", responseBytes: bodylessStatus(status) ? 0 : FAULT_ABORT_BODY.length };
}

/**
 * The headers the router's answers on a route get (upstream responses, its local replies, its
 * redirects and direct responses): the route's response header operations, then the CORS
 * filter's headers for an allowed origin.
 */
function routeReplyOps(plan: { responseHeaderOps: readonly HeaderOp[]; cors?: CorsPolicyPlan }, facts: RequestFacts): readonly HeaderOp[] {
  if (plan.cors === undefined) return plan.responseHeaderOps;
  const cors = corsResponseHeaders(plan.cors, facts);
  return cors.length === 0 ? plan.responseHeaderOps : [...plan.responseHeaderOps, ...cors.map(([name, value]): HeaderOp => ({ op: "set", name, value }))];
}

/** Envoy's DI: the fault filter delayed the request (its other flags follow). */
function withDelayFlag(plan: ForwardPlan, outcome: Outcome): Outcome {
  if (plan.fault?.delayMs !== undefined) outcome.flags = outcome.flags === "-" ? "DI" : `DI,${outcome.flags}`;
  return outcome;
}

/**
 * A locally generated answer (no upstream involved), with Envoy's response flag header. Once a
 * route is selected, pass its `responseHeaderOps`: Envoy's filter manager applies the route's
 * response headers to every local reply (`sendLocalReplyViaFilterChain`).
 */
export function local(res: ServerResponse, status: number, message: string, flag?: string, routeOps?: readonly HeaderOp[]): void {
  textAnswer(responseAnswer(res), status, message, flag, routeOps);
}

/**
 * The router's own answer to a plan that goes nowhere upstream — no route (404 NR), no cluster
 * (503 NC), a redirect, a direct response, the CORS filter's answer to a preflight before either —
 * written to `answer` (a request's response or an upgrade handshake's socket).
 */
function routerAnswer(plan: Exclude<RequestPlan, { kind: "forward" }>, facts: RequestFacts, answer: LocalAnswer): Outcome {
  switch (plan.kind) {
    case "no-route":
      textAnswer(answer, 404, `no route for ${facts.authority}: ${plan.reason}`, "NR");
      return { code: 404, flags: "NR", responseBytes: 0, destinationService: "unknown" };
    case "no-cluster":
      textAnswer(answer, 503, `no cluster: ${plan.reason}`, "NC");
      return { code: 503, flags: "NC", responseBytes: 0, destinationService: "unknown", route: routeName(plan.route) };
    case "redirect":
    case "direct-response": {
      const route = plan.route ? { route: routeName(plan.route) } : {};
      // The CORS filter runs before the router answers a redirect or a direct response.
      const preflight = plan.cors === undefined ? undefined : answerPreflight(answer, plan.cors, facts);
      if (preflight !== undefined) return { code: preflight, flags: "-", responseBytes: 0, destinationService: "unknown", ...route };
      const h: OutgoingHttpHeaders = plan.kind === "redirect" ? { location: plan.location } : {};
      const body = plan.kind === "direct-response" && plan.body !== undefined && !bodylessStatus(plan.status) ? Buffer.from(plan.body) : Buffer.alloc(0);
      if (body.length > 0) h["content-type"] = "text/plain";
      applyHeaderOps(headerSink(h), routeReplyOps(plan, facts));
      answer.send(plan.status, h, body);
      return { code: plan.status, flags: "-", responseBytes: body.length, destinationService: "unknown", ...route };
    }
  }
}
