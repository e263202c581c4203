import { Hono } from "hono";
import type { GatewayEnv } from "./env.ts";
import { gatewayInstance, workersPlatform } from "./workers/gateway-instance.ts";

/**
 * The edge gateway worker: Istio traffic management at the edge. Reads the signed gateway
 * snapshot the control plane publishes to KV, verifies it against the trust bundle, and routes
 * every request with the runtime-neutral gateway (src/edge-gateway/gateway/). `/healthz`
 * reports the in-memory snapshot state without reading KV.
 */
const app = new Hono<{ Bindings: GatewayEnv }>();

app.get("/healthz", (c) => c.json(gatewayInstance(c.env).gateway.health()));

app.all("*", (c) => {
  const inst = gatewayInstance(c.env);
  const clientIp = c.req.header("cf-connecting-ip");
  return inst.gateway.handle(c.req.raw, workersPlatform(inst, c.executionCtx), clientIp === undefined ? {} : { clientIp });
});

export default app;
export { RateLimitCounterObject } from "./workers/rate-limit-object.ts";
