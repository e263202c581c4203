import type { GatewayEnv } from "./env.ts";
import { misconfiguredResponse } from "./gateway/gateway-settings.ts";
import { gatewayInstance, keepAliveOnDisconnect, WorkersPlatform } from "./workers/gateway-instance.ts";

/**
 * The edge gateway worker: Istio traffic management at the edge. Reads the signed gateway
 * snapshot the control plane publishes to KV, verifies it against the trust bundle, and routes
 * every request with the runtime-neutral gateway (src/edge-gateway/gateway/). `GET /healthz`
 * reports the in-memory snapshot state without reading KV. A gateway whose own vars are invalid
 * answers 503 naming them, `/healthz` included (gateway-settings.ts).
 *
 * A plain module worker rather than a router: every path but one goes to the gateway, and on
 * the request path each microsecond counts (see docs/edge-gateway.md, Benchmark).
 */
export default {
  fetch(request: Request, env: GatewayEnv, ctx: ExecutionContext): Promise<Response> | Response {
    const inst = gatewayInstance(env);
    const url = new URL(request.url);
    const pathname = url.pathname;
    if (inst.problems.length > 0) return misconfiguredResponse(inst.problems, request.method, pathname);
    if (pathname === "/healthz" && (request.method === "GET" || request.method === "HEAD")) {
      const res = Response.json(inst.gateway.health());
      return request.method === "HEAD" ? new Response(null, { status: res.status, headers: res.headers }) : res;
    }
    // CF-Connecting-IP is read in the gateway's one walk over the request headers.
    const platform = new WorkersPlatform(inst, ctx);
    if (!inst.gateway.observing) {
      // Nothing records requests (no log line to write, no export in waitUntil): when the client
      // goes away, workerd ends the request's work itself and its upstream fetch with it, unless a
      // route's mirrors hold it open (the gateway then reads request.signal for that route).
      // Tracking the client's signal on every request costs about 5 % of the gateway's CPU here.
      return inst.gateway.handle(request, platform, { url, pathname, clientIpHeader: "cf-connecting-ip", requestSignalOnDemand: true });
    }
    // The request's signal aborts when the client disconnects (compatibility flag
    // `enable_request_signal`): the gateway resets the upstream request and logs 0 / DC.
    const signal = request.signal;
    const handled = inst.gateway.handle(request, platform, { url, pathname, clientIpHeader: "cf-connecting-ip", downstream: signal });
    keepAliveOnDisconnect(signal, ctx, handled);
    return handled;
  },
} satisfies ExportedHandler<GatewayEnv>;

export { RateLimitCounterObject } from "./workers/rate-limit-object.ts";
