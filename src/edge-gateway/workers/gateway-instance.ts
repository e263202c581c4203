/**
 * The per-isolate gateway for the Workers entry: built on the first request from `env`, then
 * kept (compiled snapshot, load balancers, metrics and caches live as long as the isolate).
 */
import { systemClock } from "../../core/clock.ts";
import { createJwksResolver } from "../../core/policy/index.ts";
import { SnapshotReader } from "../../core/snapshot/snapshot-reader.ts";
import { snapshotTarget, type GatewaySnapshot } from "../../core/snapshot/snapshot-model.ts";
import type { GatewayEnv } from "../env.ts";
import { compileGateway, type CompiledGateway } from "../gateway/compiled-gateway.ts";
import { EdgeGateway } from "../gateway/edge-gateway.ts";
import { CachedGatewaySvids, type GatewaySvidSource } from "../gateway/gateway-svid.ts";
import { gatewaySettingsFrom, logProblems, type SettingProblem } from "../gateway/gateway-settings.ts";
import { GatewayTelemetry } from "../gateway/gateway-telemetry.ts";
import { sleep, type GatewayPlatform } from "../gateway/platform.ts";
import { InMemoryRateLimiter, type RateLimiter } from "../rate-limit/rate-limiter.ts";
import { SnapshotState } from "../snapshot/snapshot-state.ts";
import { bundleKeyLookup, type BundleLoader } from "../snapshot/trust-keys.ts";
import { DurableObjectRateLimiter } from "./rate-limit-object.ts";
import { kvSnapshotSource } from "./snapshot-source-kv.ts";

interface Instance {
  gateway: EdgeGateway;
  /** Strait vars the gateway cannot run with; when any, index.ts answers only `misconfiguredResponse` (503). */
  problems: readonly SettingProblem[];
  rateLimiter: RateLimiter;
  svids: GatewaySvidSource | undefined;
}

let instance: Instance | undefined;

function bundleLoader(env: GatewayEnv): BundleLoader {
  if (env.TRUST_BUNDLE !== undefined && env.TRUST_BUNDLE !== "") {
    const pinned = env.TRUST_BUNDLE;
    return async () => ({ trustDomain: env.TRUST_DOMAIN ?? "strait.local", bundle: JSON.parse(pinned) as unknown });
  }
  const control = env.CONTROL_IDENTITY;
  if (control === undefined) return async () => Promise.reject(new Error("no trust bundle: bind CONTROL_IDENTITY or set TRUST_BUNDLE"));
  return async () => {
    const b = await control.trustBundle();
    return { trustDomain: b.trustDomain, bundle: JSON.parse(b.bundleJson) as unknown };
  };
}

function create(env: GatewayEnv): Instance {
  const clock = systemClock;
  const fetcher = (r: Request) => fetch(r);
  const jwks = createJwksResolver({ clock, fetch: (input, init) => fetch(input, init) });
  const settings = gatewaySettingsFrom(env as unknown as Record<string, unknown>);
  logProblems(settings.problems);
  const reader = new SnapshotReader<GatewaySnapshot>({
    source: kvSnapshotSource(env.CONFIG),
    target: snapshotTarget(),
    type: "gateway",
    keys: bundleKeyLookup({ load: bundleLoader(env), clock, ...(env.TRUST_DOMAIN === undefined ? {} : { trustDomain: env.TRUST_DOMAIN }) }),
  });
  const state = new SnapshotState<CompiledGateway>({
    reader,
    clock,
    checkIntervalMs: settings.snapshotCheckMs,
    compile: (v) => {
      const c = compileGateway(v, { jwks, clock, ...(env.ROOT_NAMESPACE === undefined ? {} : { rootNamespace: env.ROOT_NAMESPACE }) });
      for (const issue of c.issues) console.warn(`gateway snapshot v${v.version}: ${issue}`);
      return c;
    },
    log: (m) => console.log(m),
  });
  const telemetry = new GatewayTelemetry(settings.telemetry, () => clock.now(), fetcher);
  const control = env.CONTROL_IDENTITY;
  return {
    problems: settings.problems,
    gateway: new EdgeGateway({ state, telemetry, trustDomain: env.TRUST_DOMAIN ?? "strait.local", responseRequestId: settings.responseRequestId, ...(env.ROOT_NAMESPACE === undefined ? {} : { namespace: env.ROOT_NAMESPACE }) }),
    rateLimiter: env.RATE_LIMITER === undefined ? new InMemoryRateLimiter(() => clock.now()) : new DurableObjectRateLimiter(env.RATE_LIMITER),
    svids: control === undefined ? undefined : new CachedGatewaySvids((aud) => control.mintGatewaySvid(aud), clock),
  };
}

export function gatewayInstance(env: GatewayEnv): Instance {
  instance ??= create(env);
  return instance;
}

/**
 * The Workers side of the gateway's platform for one request: everything but `waitUntil` is the
 * instance's, so the per-request object is one small allocation (no closures).
 */
export class WorkersPlatform implements GatewayPlatform {
  // `declare`d, assigned in the constructor: ES2022 class fields would run a defining initializer per request.
  declare readonly clock: GatewayPlatform["clock"];
  declare readonly rateLimiter: RateLimiter;
  declare readonly svids?: GatewaySvidSource;
  declare readonly sleep: GatewayPlatform["sleep"];
  /** workerd's fetch derives Host from the URL (a Host header is dropped). */
  declare readonly hostFromUrl: boolean;
  declare private readonly ctx: { waitUntil(p: Promise<unknown>): void };

  constructor(inst: Instance, ctx: { waitUntil(p: Promise<unknown>): void }) {
    this.clock = systemClock;
    this.rateLimiter = inst.rateLimiter;
    if (inst.svids !== undefined) this.svids = inst.svids;
    this.sleep = sleep;
    this.hostFromUrl = true;
    this.ctx = ctx;
  }

  fetch(input: string | Request, init?: RequestInit): Promise<Response> {
    return fetch(input, init);
  }
  waitUntil(promise: Promise<unknown>): void {
    this.ctx.waitUntil(promise);
  }
  accessLog(line: string): void {
    console.log(line);
  }
  /** workerd sends a JavaScript stream chunked unless it flows through a FixedLengthStream. */
  sizedBody(body: ReadableStream<Uint8Array>, length: number): ReadableStream<Uint8Array> {
    return body.pipeThrough(new FixedLengthStream(length));
  }
}

/**
 * Hands `request.signal` (compatibility flag `enable_request_signal`) to the gateway as the
 * client's signal, and keeps the request's work alive when it aborts. When the client
 * disconnects, workerd aborts the signal in a task of its own (a fetch given the signal, with
 * `request_signal_passthrough`, is cancelled), then ends the request's I/O context unless
 * something waits on it: the `waitUntil` registered here from the abort handler lets the gateway's
 * continuation run to its end (the reset attempt, the `DC` log line, the metrics). The handler is
 * one property set per request, no listener list and no `waitUntil` while the client stays.
 */
export function keepAliveOnDisconnect(signal: AbortSignal, ctx: { waitUntil(p: Promise<unknown>): void }, work: Promise<unknown>): void {
  signal.onabort = () => ctx.waitUntil(work);
}
