/**
 * Counting for global rate limits: fixed windows per bucket key. The Workers entry counts in a
 * Durable Object (one object per bucket, so every isolate everywhere shares the count); Deno
 * counts in process memory.
 */
export interface RateLimitHit {
  allowed: boolean;
  /** Seconds until the window resets (for `Retry-After`), at least 1. */
  retryAfterSeconds: number;
  /** Requests counted in the current window, this one included. */
  count: number;
}

export interface RateLimiter {
  /** Counts one request against `key` (limit `limit` per `windowSeconds`) and says whether it is allowed. */
  hit(key: string, limit: number, windowSeconds: number): Promise<RateLimitHit>;
}

/**
 * One fixed-window counter. `now` in milliseconds; the window is aligned to multiples of its
 * length so every counter of the same size resets at the same instant.
 */
export class FixedWindowCounter {
  private windowStart = -1;
  private count = 0;

  hit(now: number, limit: number, windowSeconds: number): RateLimitHit {
    const windowMs = windowSeconds * 1000;
    const start = Math.floor(now / windowMs) * windowMs;
    if (start !== this.windowStart) {
      this.windowStart = start;
      this.count = 0;
    }
    this.count++;
    const retryAfterSeconds = Math.max(1, Math.ceil((start + windowMs - now) / 1000));
    return { allowed: this.count <= limit, retryAfterSeconds, count: this.count };
  }
}

/** In-process limiter (Deno, tests): exact for one process, not shared across processes. */
export class InMemoryRateLimiter implements RateLimiter {
  private readonly counters = new Map<string, FixedWindowCounter>();
  constructor(private readonly now: () => number) {}

  hit(key: string, limit: number, windowSeconds: number): Promise<RateLimitHit> {
    let c = this.counters.get(key);
    if (c === undefined) {
      // Bounded: a flood of distinct keys must not grow memory without limit.
      if (this.counters.size >= 100_000) this.counters.clear();
      c = new FixedWindowCounter();
      this.counters.set(key, c);
    }
    return Promise.resolve(c.hit(this.now(), limit, windowSeconds));
  }
}
