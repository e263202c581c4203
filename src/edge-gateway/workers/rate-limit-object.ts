/**
 * Global rate-limit counting on Workers: one Durable Object per bucket key (`idFromName`), so
 * every gateway isolate in every location counts against the same fixed window.
 */
import { DurableObject } from "cloudflare:workers";
import { FixedWindowCounter, type RateLimiter, type RateLimitHit } from "../rate-limit/rate-limiter.ts";

export class RateLimitCounterObject extends DurableObject {
  private readonly counter = new FixedWindowCounter();

  async hit(limit: number, windowSeconds: number): Promise<RateLimitHit> {
    return this.counter.hit(Date.now(), limit, windowSeconds);
  }
}

export class DurableObjectRateLimiter implements RateLimiter {
  constructor(private readonly ns: DurableObjectNamespace<RateLimitCounterObject>) {}

  async hit(key: string, limit: number, windowSeconds: number): Promise<RateLimitHit> {
    const stub = this.ns.get(this.ns.idFromName(key));
    return stub.hit(limit, windowSeconds);
  }
}
