/**
 * Mirrors (`mirror`/`mirrors`): fire-and-forget copies of the request as the router would send it
 * upstream (rewritten path, route and destination request header ops), sent through `waitUntil`
 * so they never delay the response; their responses and failures are ignored.
 */
import { applyHeaderOps, type MirrorPlan, type ForwardPlan } from "../../core/routing/index.ts";
import type { CompiledGateway } from "./compiled-gateway.ts";
import type { GatewayPlatform } from "./platform.ts";
import { endpointsOf, upstreamTarget } from "./upstream-target.ts";

/** How long a mirror may take before it is abandoned. */
const MIRROR_TIMEOUT_MS = 10_000;

export function sendMirrors(
  mirrors: readonly MirrorPlan[],
  base: ForwardPlan,
  compiled: CompiledGateway,
  method: string,
  headers: readonly (readonly [string, string])[],
  body: ArrayBuffer | null,
  platform: GatewayPlatform,
): void {
  for (const m of mirrors) {
    // A mirror is the same request to another cluster: reuse the forward plan's path and ops.
    const plan: ForwardPlan = { ...base, cluster: m.cluster, destination: m.destination, upstreamRequest: { ...base.upstreamRequest, authority: m.authority } };
    const send = async () => {
      const eps = endpointsOf(plan);
      const state = compiled.cluster(m.cluster);
      const ep = state.balancer.pick(eps, plan.hashKey === undefined ? {} : { hashKey: plan.hashKey });
      if (ep === undefined) return;
      try {
        const target = await upstreamTarget(plan, ep, compiled.nodeIngress, platform.svids);
        const h = new Headers(headers as [string, string][]);
        // Envoy copies the shadow's headers after the route's finalizeRequestHeaders: the route's
        // (and picked destination's) request header ops travel with the mirror, as the path rewrite does.
        applyHeaderOps(h, plan.upstreamRequest.headerOps);
        h.set("host", m.authority);
        h.set("x-forwarded-host", m.authority);
        // The router sets the attempt count before it copies the shadow's headers.
        h.set("x-envoy-attempt-count", "1");
        for (const [k, v] of target.headers) h.set(k, v);
        const res = await platform.fetch(new Request(target.url, { method, headers: h, body, redirect: "manual", signal: AbortSignal.timeout(MIRROR_TIMEOUT_MS) }));
        await res.body?.cancel();
      } catch {
        // Mirrors are best effort (Envoy ignores shadow failures).
      } finally {
        state.balancer.release(ep);
      }
    };
    platform.waitUntil(send());
  }
}
