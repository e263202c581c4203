/**
 * A fixed-rate (open-loop) HTTP load, the way Istio's latency benchmarks drive a proxy with
 * `fortio load -qps`: request i leaves at t0 + i / rate, evenly spaced, whatever the earlier
 * requests are doing, over a pool of keep-alive connections (undici's Pool, `pipelining: 1`).
 *
 * Why not autocannon's `overallRate`: autocannon 8.0.0 throttles per one-second window, not per
 * interval. Each connection sends its share of the second back to back as soon as the window
 * opens, then idles until the next one (checked: 500 rps over 16 connections to a bare Node server,
 * every response arrived within the first 200 ms of its second). Its latencies are then those of a
 * 16-connection burst at saturation, which is what the saturated phase already measures. Its
 * latency histogram also keeps whole milliseconds only (`lowestDiscernibleValue: 1`, a 0.8 ms
 * response counts as 0), and its coordinated-omission correction uses an expected interval of
 * `Math.ceil(1 / rate)` = 1 ms, adding synthetic samples to every response slower than 1 ms.
 *
 * Latency here is from the moment a request is handed to the pool to the end of its body, read
 * with `performance.now()` (microsecond resolution); a request that waits for a free connection
 * counts that wait. The send lag (actual send time − scheduled time) is reported so a client that
 * fell behind its schedule (a stalled event loop) shows; late requests are sent at once when the
 * loop wakes, so the number sent stays on schedule.
 */
import { Pool } from "undici";

export interface PacedLoadOptions {
  url: string;
  /** Host header of every request. */
  host: string;
  /** Offered requests per second. */
  rate: number;
  durationSeconds: number;
  /** Size of the connection pool: an upper bound on requests in flight. */
  connections: number;
  /** Per-request bound on waiting for headers and for the body (default 10 s). */
  timeoutMs?: number;
}

export interface PacedLoadResult {
  /** Requests sent (rate × duration). */
  sent: number;
  /** 2xx responses whose body was read. */
  ok: number;
  non2xx: number;
  /** Requests that failed (connection errors, timeouts). */
  errors: number;
  /** 2xx responses per second, from the first scheduled send to the last response. */
  achievedRps: number;
  /** Latencies of the 2xx responses, ms, ascending. */
  latenciesMs: Float64Array;
  /** 99th percentile of (send time − scheduled time), ms. */
  sendLagP99Ms: number;
}

/** Nearest-rank percentile of an ascending array (`q` in [0, 1]); NaN when empty. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1]!;
}

export async function runPacedLoad(o: PacedLoadOptions): Promise<PacedLoadResult> {
  if (!(o.rate > 0) || !(o.durationSeconds > 0) || !(o.connections >= 1)) {
    throw new TypeError(`runPacedLoad: rate, durationSeconds and connections must be positive (got ${o.rate}, ${o.durationSeconds}, ${o.connections})`);
  }
  const target = new URL(o.url);
  const timeout = o.timeoutMs ?? 10_000;
  const pool = new Pool(target.origin, { connections: o.connections, pipelining: 1, headersTimeout: timeout, bodyTimeout: timeout, keepAliveTimeout: 30_000 });
  const path = target.pathname + target.search;
  const total = Math.max(1, Math.round(o.rate * o.durationSeconds));
  const intervalMs = 1000 / o.rate;
  const latencies: number[] = [];
  const lags: number[] = [];
  let non2xx = 0;
  let errors = 0;
  let lastDone = 0;

  const one = async (scheduled: number): Promise<void> => {
    const start = performance.now();
    lags.push(start - scheduled);
    try {
      const res = await pool.request({ method: "GET", path, headers: { host: o.host } });
      await res.body.text();
      const end = performance.now();
      lastDone = Math.max(lastDone, end);
      if (res.statusCode >= 200 && res.statusCode < 300) latencies.push(end - start);
      else non2xx++;
    } catch {
      errors++;
    }
  };

  const inFlight: Promise<void>[] = [];
  const t0 = performance.now();
  try {
    await new Promise<void>((resolve) => {
      let i = 0;
      const tick = (): void => {
        const now = performance.now();
        // Everything due by now leaves now: a late wake-up catches up instead of shifting the schedule.
        while (i < total && t0 + i * intervalMs <= now) {
          inFlight.push(one(t0 + i * intervalMs));
          i++;
        }
        if (i >= total) return resolve();
        setTimeout(tick, Math.max(0, t0 + i * intervalMs - performance.now()));
      };
      tick();
    });
    await Promise.all(inFlight);
  } finally {
    await pool.close();
  }
  const sortedLatencies = Float64Array.from(latencies).sort();
  const elapsedMs = lastDone > t0 ? lastDone - t0 : Number.NaN;
  return {
    sent: total,
    ok: sortedLatencies.length,
    non2xx,
    errors,
    achievedRps: (sortedLatencies.length * 1000) / elapsedMs,
    latenciesMs: sortedLatencies,
    sendLagP99Ms: percentile(Float64Array.from(lags).sort(), 0.99),
  };
}
