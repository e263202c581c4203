/**
 * The inbound HTTP path, shared by the three inbound listeners (HBONE 15008, plaintext 15006,
 * edge-ingress 15443): RequestAuthentication (JWT) and AuthorizationPolicy for the destination
 * workload, then the request is forwarded to the workload over a keep-alive connection.
 *
 * A denied request is answered 403 `RBAC: access denied` (flag RBAC) and counted; an AUDIT match
 * is written to the access log. The peer's SPIFFE ID comes from mTLS (HBONE) or from the edge
 * gateway's JWT-SVID, never from a header.
 */
import http, { type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import {
  applyAuthnResultToAuthz,
  compileAuthorization,
  compileRequestAuthentication,
  createJwksResolver,
  requestPath,
  RBAC_DENIED_BODY,
  type AuthorizationEngine,
  type AuthzRequestAuth,
  type JwksResolver,
  type RequestAuthenticator,
} from "../../core/policy/index.ts";
import type { ConfigView, ConnectionSecurityPolicy, DataPlaneContext, PeerIdentity } from "../context.ts";
import { ensureRequestId, forwardableHeaders, headerMap, responseHeaders } from "../outbound/http-headers.ts";
import { local } from "../outbound/http-outbound.ts";
import { isWebSocketUpgrade, relayUpgrade, socketReply, withUpgradeHeaders } from "../outbound/upgrade-relay.ts";
import { plainIp } from "../outbound/source-workload.ts";
import { bodyFailureFlag } from "../outbound/body-failure.ts";
import type { LocalTarget } from "./local-targets.ts";

/** What RequestAuthentication and AuthorizationPolicy decided for one request. */
type Admission =
  | { kind: "refused"; status: 401 | 403; message: string; flags: string; auditPolicy?: string }
  | { kind: "admitted"; upstreamHeaders: OutgoingHttpHeaders; auditPolicy?: string };

/** Who is calling, as the listener established it. */
export interface InboundCaller {
  /** Authenticated peer (mTLS SPIFFE ID, or the edge gateway's JWT-SVID subject); absent for plaintext. */
  peer?: PeerIdentity;
  remoteAddress: string | undefined;
  security: ConnectionSecurityPolicy;
  listener: "hbone" | "plaintext" | "edge";
}

export function authorizationFor(view: ConfigView, workloadKey: string): AuthorizationEngine {
  return view.derive(`h5:authz:${workloadKey}`, (v) => compileAuthorization(v.snapshot.authorizationPolicies, workloadKey));
}

export class InboundHttp {
  private jwks: JwksResolver | undefined;
  /**
   * Keep-alive connections to local workloads. An idle connection is dropped after 4 s, before
   * a Node.js workload's own 5 s keep-alive timeout can close it under a request being sent.
   */
  readonly localAgent = new http.Agent({ keepAlive: true, maxFreeSockets: 256, scheduling: "lifo", timeout: 4_000 });

  constructor(private readonly ctx: DataPlaneContext) {}

  private authenticatorFor(view: ConfigView, workloadKey: string): RequestAuthenticator | undefined {
    if (view.snapshot.requestAuthentications.length === 0) return undefined;
    if (!view.snapshot.requestAuthentications.some((p) => p.appliesTo.includes(workloadKey))) return undefined;
    return view.derive(`h5:authn:${workloadKey}`, (v) => {
      this.jwks ??= createJwksResolver({ clock: this.ctx.clock });
      return compileRequestAuthentication(v.snapshot.requestAuthentications, { jwks: this.jwks, clock: this.ctx.clock, forWorkload: workloadKey });
    });
  }

  /** Serves one request for `target`; never throws (errors become 5xx for the proxy's own faults). */
  serve(req: IncomingMessage, res: ServerResponse, target: LocalTarget, caller: InboundCaller, view: ConfigView): void {
    this.run(req, res, target, caller, view).catch((err: unknown) => {
      this.ctx.logger.error("inbound request failed", { error: err instanceof Error ? err.message : String(err) });
      if (!res.headersSent) local(res, 500, "internal proxy error");
      else res.destroy();
    });
  }

  private async run(req: IncomingMessage, res: ServerResponse, target: LocalTarget, caller: InboundCaller, view: ConfigView): Promise<void> {
    const { ctx } = this;
    const started = performance.now();
    const startMs = ctx.clock.now();
    // The destination's connection manager generates x-request-id too when none came (plaintext or edge callers).
    ensureRequestId(req.headers);
    // The path the policies match is the path the workload gets (Envoy's normalize_path, Istio's
    // default BASE normalization); an encoded NUL is refused before any policy runs.
    const normalized = requestPath(req.url ?? "/");
    if (!normalized.ok) {
      req.resume();
      local(res, 400, normalized.reason);
      return;
    }
    const path = normalized.path;
    const host = req.headers.host ?? `${target.address}:${target.port}`;
    let code: number;
    let flags = "-";
    let responseBytes = 0;
    const admission = await this.admit(req, target, caller, view, path, host);
    const auditPolicy = admission.auditPolicy;
    if (admission.kind === "refused") {
      local(res, admission.status, admission.message, admission.flags === "-" ? undefined : admission.flags);
      req.resume();
      code = admission.status;
      flags = admission.flags;
    } else {
      const r = await this.toWorkload(req, res, target, path, admission.upstreamHeaders);
      code = r.code;
      flags = r.flags;
      responseBytes = r.bytes;
    }
    this.record(req, target, caller, { path, host, code, flags, responseBytes, ...(auditPolicy === undefined ? {} : { auditPolicy }) }, started, startMs);
  }

  /** Istio's request metrics (reporter=destination) and the access-log line of one finished request. */
  private record(
    req: IncomingMessage,
    target: LocalTarget,
    caller: InboundCaller,
    o: { path: string; host: string; code: number; flags: string; responseBytes: number; requestBytes?: number; auditPolicy?: string },
    started: number,
    startMs: number,
  ): void {
    const { ctx } = this;
    const { path, host, code, flags, responseBytes, auditPolicy } = o;
    const durationMs = performance.now() - started;
    const requestBytes = o.requestBytes ?? (Number(req.headers["content-length"] ?? 0) || 0);
    const destinationService = target.service?.host ?? "unknown";
    ctx.metrics.request(
      {
        reporter: "destination",
        source_workload: caller.peer ? workloadOf(caller.peer.spiffeId) : "unknown",
        source_principal: caller.peer?.spiffeId ?? "unknown",
        destination_service: destinationService,
        destination_principal: target.workload.spiffeId,
        response_code: String(code),
        response_flags: flags,
        connection_security_policy: caller.security,
      },
      { durationMs, requestBytes, responseBytes },
    );
    if (ctx.log.enabled === false) return;
    ctx.log.log({
      start_time: new Date(startMs).toISOString(),
      method: req.method ?? "",
      path,
      protocol: `HTTP/${req.httpVersion}`,
      response_code: code,
      response_flags: flags,
      bytes_received: requestBytes,
      bytes_sent: responseBytes,
      duration: Math.round(durationMs),
      authority: host,
      upstream_host: `${target.address}:${target.port}`,
      upstream_cluster: `inbound|${target.port}||`,
      downstream_remote_address: plainIp(caller.remoteAddress),
      ...(caller.peer ? { source_principal: caller.peer.spiffeId } : {}),
      destination_principal: target.workload.spiffeId,
      connection_security_policy: caller.security,
      ...(typeof req.headers["x-request-id"] === "string" ? { request_id: req.headers["x-request-id"] } : {}),
      ...(typeof req.headers.traceparent === "string" ? { traceparent: req.headers.traceparent } : {}),
      reporter: "destination",
      listener: caller.listener,
      ...(auditPolicy === undefined ? {} : { audit: true, audit_policy: auditPolicy }),
    });
  }

  /** A WebSocket handshake for `target`: admitted like a request, then relayed byte for byte. Never throws. */
  serveUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, target: LocalTarget, caller: InboundCaller, view: ConfigView): void {
    socket.on("error", () => socket.destroy());
    this.runUpgrade(req, socket, head, target, caller, view).catch((err: unknown) => {
      this.ctx.logger.error("inbound upgrade failed", { error: err instanceof Error ? err.message : String(err) });
      socket.destroy();
    });
  }

  private async runUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, target: LocalTarget, caller: InboundCaller, view: ConfigView): Promise<void> {
    const started = performance.now();
    const startMs = this.ctx.clock.now();
    ensureRequestId(req.headers);
    const normalized = requestPath(req.url ?? "/");
    if (!normalized.ok) return socketReply(socket, 400, normalized.reason);
    if (!isWebSocketUpgrade(req.headers)) return socketReply(socket, 403, `upgrade to ${String(req.headers.upgrade)} is not proxied (websocket only)`);
    const path = normalized.path;
    const host = req.headers.host ?? `${target.address}:${target.port}`;
    const admission = await this.admit(req, target, caller, view, path, host);
    const audit = admission.auditPolicy === undefined ? {} : { auditPolicy: admission.auditPolicy };
    if (admission.kind === "refused") {
      socketReply(socket, admission.status, admission.message, admission.flags === "-" ? {} : { "x-envoy-response-flags": admission.flags });
      this.record(req, target, caller, { path, host, code: admission.status, flags: admission.flags, responseBytes: 0, ...audit }, started, startMs);
      return;
    }
    const headers = withUpgradeHeaders(admission.upstreamHeaders, req.headers);
    const up = http.request({ agent: false, host: target.address, port: target.port, method: req.method, path, headers, setHost: false, ...PLAIN_HTTP });
    const r = await relayUpgrade(socket, head, up);
    this.record(req, target, caller, { path, host, code: r.code, flags: r.flags, responseBytes: r.bytesSent, requestBytes: r.bytesReceived, ...audit }, started, startMs);
  }

  /**
   * RequestAuthentication then AuthorizationPolicy for one request (or upgrade handshake) to
   * `target`; when admitted, the headers to send the workload (hop-by-hop dropped, JWT outputs
   * applied, x-forwarded-proto filled, XFCC set by the proxy only).
   */
  private async admit(req: IncomingMessage, target: LocalTarget, caller: InboundCaller, view: ConfigView, path: string, host: string): Promise<Admission> {
    const { ctx } = this;
    const headers = headerMap(req.headers);
    const upstreamHeaders = forwardableHeaders(req.headers);
    upstreamHeaders.host = host;
    // As on the caller's side: set when absent (HBONE is TLS downstream), a caller's value kept.
    if (upstreamHeaders["x-forwarded-proto"] === undefined) upstreamHeaders["x-forwarded-proto"] = caller.listener === "hbone" ? "https" : "http";
    let auth: AuthzRequestAuth | undefined;
    const authn = this.authenticatorFor(view, target.workloadKey);
    if (authn !== undefined) {
      // The method lets CORS preflights through without a token check (Istio sets bypass_cors_preflight).
      const result = await authn.authenticate({ method: req.method ?? "GET", headers, url: path });
      // Envoy's jwt_authn refuses with details `jwt_authn_access_denied` and no response flag (UAEX is ext_authz's).
      if (result.kind === "invalid") return { kind: "refused", status: 401, message: result.message, flags: "-" };
      for (const op of result.requestHeaders) {
        if (op.op === "set") upstreamHeaders[op.name.toLowerCase()] = op.value;
        else delete upstreamHeaders[op.name.toLowerCase()];
      }
      auth = applyAuthnResultToAuthz(result);
    }
    const decision = authorizationFor(view, target.workloadKey).evaluate({
      source: { ...(caller.peer ? { principal: caller.peer.spiffeId } : {}), ip: plainIp(caller.remoteAddress) },
      request: { host, method: req.method ?? "GET", path, headers, ...(auth ? { auth } : {}) },
      destination: { ip: target.address, port: target.port },
    });
    const audit = decision.audit ? { auditPolicy: decision.auditPolicy ?? "unknown" } : {};
    if (!decision.allow) {
      ctx.metrics.count("authz_denied", { workload: target.workloadKey, protocol: "http", ...(decision.policy ? { policy: decision.policy } : {}) });
      return { kind: "refused", status: 403, message: RBAC_DENIED_BODY, flags: "RBAC", ...audit };
    }
    ctx.metrics.count("authz_allowed", allowedLabels(target));
    // Only the proxy speaks for the peer's identity: a client-supplied XFCC never passes.
    if (caller.peer !== undefined) upstreamHeaders["x-forwarded-client-cert"] = `By=${target.workload.spiffeId};URI=${caller.peer.spiffeId}`;
    else delete upstreamHeaders["x-forwarded-client-cert"];
    return { kind: "admitted", upstreamHeaders, ...audit };
  }

  private toWorkload(req: IncomingMessage, res: ServerResponse, target: LocalTarget, path: string, headers: OutgoingHttpHeaders): Promise<{ code: number; flags: string; bytes: number }> {
    return new Promise((resolve) => {
      let bytes = 0;
      let done = false;
      function finish(v: { code: number; flags: string; bytes: number }): void {
        if (!done) {
          done = true;
          resolve(v);
        }
      }
      const up = http.request({ agent: this.localAgent, host: target.address, port: target.port, method: req.method, path, headers, setHost: false, ...PLAIN_HTTP });
      up.on("response", (r) => {
        const code = r.statusCode ?? 502;
        res.writeHead(code, responseHeaders(r.headers));
        r.on("data", (c: Buffer) => {
          bytes += c.length;
        });
        r.pipe(res);
        r.once("end", () => finish({ code, flags: "-", bytes }));
        // The body broke off (a malformed one was already reported on the request, below).
        r.once("error", () => {
          res.destroy();
          finish({ code, flags: "UC", bytes });
        });
      });
      up.on("error", (err) => {
        if (!res.headersSent) {
          local(res, 503, "upstream connect error or disconnect/reset before headers. reset reason: connection failure", "UF");
          finish({ code: 503, flags: "UF", bytes: 0 });
        } else {
          res.destroy();
          finish({ code: res.statusCode, flags: bodyFailureFlag(err), bytes });
        }
      });
      res.once("close", () => {
        if (!res.writableFinished) {
          up.destroy();
          finish({ code: res.statusCode, flags: "DC", bytes });
        }
      });
      req.pipe(up);
    });
  }
}

/** Plain HTTP to the workload: an empty server name spares the agent deriving a TLS one per request. */
const PLAIN_HTTP = { servername: "" } as const;

const workloadNames = new Map<string, string>();

/** `spiffe://td/ns/<ns>/sa/<sa>` -> `<sa>` (Istio's source_workload falls back to the service account). */
function workloadOf(spiffeId: string): string {
  let name = workloadNames.get(spiffeId);
  if (name === undefined) {
    const m = /\/sa\/([^/]+)$/.exec(spiffeId);
    name = m === null ? "unknown" : m[1]!;
    if (workloadNames.size >= 10_000) workloadNames.clear();
    workloadNames.set(spiffeId, name);
  }
  return name;
}

const allowedLabelsByTarget = new WeakMap<LocalTarget, Record<string, string>>();

/** `strait_proxy_authz_allowed_total` labels of a target, made once per target (targets are per view). */
function allowedLabels(target: LocalTarget): Record<string, string> {
  let labels = allowedLabelsByTarget.get(target);
  if (labels === undefined) {
    labels = { workload: target.workloadKey, protocol: "http" };
    allowedLabelsByTarget.set(target, labels);
  }
  return labels;
}
