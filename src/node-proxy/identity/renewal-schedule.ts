/**
 * When to renew, and how long to wait after a failure.
 *
 * Renewal at half of the certificate's lifetime ±10 % (SPIRE's rotationutil, Istio's
 * SECRET_GRACE_PERIOD_RATIO 0.5) so that a fleet of proxies does not renew in step,
 * and so that a failed attempt still has half a lifetime of retries before expiry.
 * Failures back off exponentially per identity, capped, with jitter, and never
 * past the point where less than 1 s of validity is left.
 */

export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 500, capMs: 30_000 };

/** Epoch ms at which to renew a credential valid from `notBefore` to `notAfter`. `random` in [0, 1). */
export function renewalTime(notBefore: number, notAfter: number, random: () => number): number {
  const lifetime = Math.max(0, notAfter - notBefore);
  const fraction = 0.5 + (random() * 2 - 1) * 0.1;
  return notBefore + Math.floor(lifetime * fraction);
}

/** Delay before retry number `failures` (1 = first retry): base·2^(n-1), capped, jittered into [½, 1] of that. */
export function backoffDelay(failures: number, random: () => number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  const exp = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, Math.min(30, failures - 1)));
  return Math.floor(exp / 2 + (random() * exp) / 2);
}

/** Timers behind an interface so the owner can be closed cleanly (and tests can count them). */
export interface Scheduler {
  schedule(fn: () => void, delayMs: number): { cancel(): void };
}

/** Real timers, unref'd: a pending renewal never keeps the process alive by itself. */
export const timerScheduler: Scheduler = {
  schedule(fn, delayMs) {
    // setTimeout's limit is 2^31-1 ms; longer waits re-check when they fire.
    const t = setTimeout(fn, Math.max(0, Math.min(delayMs, 2 ** 31 - 1)));
    t.unref();
    return { cancel: () => clearTimeout(t) };
  },
};
