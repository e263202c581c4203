/**
 * What the runtime-neutral gateway needs from the runtime it runs on (Workers or Deno).
 * Entry points build one per request (Workers: from `env` and the execution context).
 */
import type { Clock } from "../../core/clock.ts";
import type { RateLimiter } from "../rate-limit/rate-limiter.ts";
import type { GatewaySvidSource } from "./gateway-svid.ts";

export interface GatewayPlatform {
  clock: Clock;
  /** Outbound HTTP (the runtime's `fetch`). */
  fetch(input: string | Request, init?: RequestInit): Promise<Response>;
  /** Keeps work (mirrors, telemetry export, snapshot refresh) alive after the response is sent. */
  waitUntil(promise: Promise<unknown>): void;
  rateLimiter: RateLimiter;
  /** JWT-SVIDs of the gateway for node proxies (in-cluster upstreams); absent when the runtime cannot mint them. */
  svids?: GatewaySvidSource;
  /** Writes one access-log line (JSON). */
  accessLog(line: string): void;
  /** Timers: resolves after `ms` unless `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /**
   * True when the runtime's `fetch` takes `Host` from the URL and drops a `Host` header (workerd
   * does): the gateway then sets none (each one costs a header conversion per attempt and is
   * discarded). The planned authority travels in `x-forwarded-host` either way.
   */
  readonly hostFromUrl?: boolean;
  /**
   * `body` as a response body the runtime sends with `Content-Length: length` (not chunked). The
   * gateway counts large bodies of known length as they stream; a JavaScript stream of unknown
   * length would lose the length on the wire in workerd (which sends it chunked) but not in Deno.
   */
  sizedBody(body: ReadableStream<Uint8Array>, length: number): ReadableStream<Uint8Array>;
}

/** Sleeps with `setTimeout`, rejecting with the signal's reason on abort. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
