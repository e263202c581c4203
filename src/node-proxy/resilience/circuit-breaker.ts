/**
 * DestinationRule `connectionPool` limits for one cluster, as Envoy's circuit breakers apply them:
 * at most `maxConnections` upstream connections (HTTP/1.1 carries one request per connection at
 * a time, so this bounds concurrent requests too), at most `http2MaxRequests` requests in flight,
 * and at most `http1MaxPendingRequests` requests waiting for a slot. A request beyond those limits
 * overflows: the caller answers 503 with response flag `UO` at once. `maxRetries` bounds retries in
 * flight across the cluster. Istio's defaults are all 2^32-1 (no limit).
 */
import type { ConnectionPoolSettings } from "../../core/config/kinds/destination-rule.ts";

const UNLIMITED = 2 ** 32 - 1;

export interface PoolLimits {
  maxConnections: number;
  maxRequests: number;
  maxPending: number;
  maxRetries: number;
}

export function poolLimits(cp: ConnectionPoolSettings | undefined): PoolLimits {
  const pos = (v: number | undefined) => (v === undefined || v <= 0 ? UNLIMITED : v);
  return {
    maxConnections: pos(cp?.tcp?.maxConnections),
    maxRequests: pos(cp?.http?.http2MaxRequests),
    maxPending: pos(cp?.http?.http1MaxPendingRequests),
    maxRetries: pos(cp?.http?.maxRetries),
  };
}

/** Thrown (and answered 503 UO) when a limit overflows. */
export class PoolOverflowError extends Error {
  readonly code = "ERR_UPSTREAM_OVERFLOW";
  readonly flag = "UO";
  constructor(readonly limit: "pending" | "connections" | "retries") {
    super(`upstream connection pool overflow (${limit})`);
  }
}

export class CircuitBreaker {
  private active = 0;
  private retries = 0;
  private connections = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly limits: PoolLimits) {}

  private get slots(): number {
    return Math.min(this.limits.maxConnections, this.limits.maxRequests);
  }

  /**
   * Takes a request slot, waiting in the pending queue when all are busy.
   * Resolves to a release function; throws {@link PoolOverflowError} when the queue is full.
   */
  acquire(signal?: AbortSignal): Promise<() => void> | (() => void) {
    if (this.active < this.slots) {
      this.active++;
      return this.releaser();
    }
    if (this.waiting.length >= this.limits.maxPending) throw new PoolOverflowError("pending");
    return new Promise<() => void>((resolve, reject) => {
      const go = () => {
        signal?.removeEventListener("abort", abort);
        this.active++;
        resolve(this.releaser());
      };
      const abort = () => {
        const i = this.waiting.indexOf(go);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal?.reason ?? new Error("aborted"));
      };
      signal?.addEventListener("abort", abort, { once: true });
      this.waiting.push(go);
    });
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.active--;
      const next = this.waiting.shift();
      if (next !== undefined) next();
    };
  }

  /** A retry slot, or false when `maxRetries` retries are already in flight. */
  tryRetry(): (() => void) | false {
    if (this.retries >= this.limits.maxRetries) return false;
    this.retries++;
    let done = false;
    return () => {
      if (!done) {
        done = true;
        this.retries--;
      }
    };
  }

  /** A TCP connection slot (CONNECT tunnels), or throws {@link PoolOverflowError}. */
  openConnection(): () => void {
    if (this.connections >= this.limits.maxConnections) throw new PoolOverflowError("connections");
    this.connections++;
    let done = false;
    return () => {
      if (!done) {
        done = true;
        this.connections--;
      }
    };
  }

  stats(): { active: number; pending: number; retries: number; connections: number } {
    return { active: this.active, pending: this.waiting.length, retries: this.retries, connections: this.connections };
  }
}
