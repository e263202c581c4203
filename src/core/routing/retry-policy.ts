/**
 * Istio retry semantics (pilot `route/retry/retry.go`, Envoy RetryStateImpl).
 * No `retries` on a route means Istio's default policy: 2 retries on
 * `connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes`
 * with no status codes (istio-semantics.md §2.6). `attempts: 0` disables
 * retries. Integers in `retryOn` become retriable status codes and
 * `retriable-status-codes` is added for them.
 */
import type { HTTPRetry } from "../config/kinds/virtual-service.ts";
import { parseDurationMs } from "../config/duration.ts";
import type { AttemptOutcome, RetryDecision, RetryPolicy } from "./types.ts";

export const DEFAULT_RETRY_ON: readonly string[] = ["connect-failure", "refused-stream", "unavailable", "cancelled", "retriable-status-codes"];
const DEFAULT_ATTEMPTS = 2;
const DEFAULT_BACKOFF_MS = 25;

/** gRPC status names Envoy's retry conditions check in `grpc-status`. */
const GRPC_CONDITIONS: Readonly<Record<string, number>> = {
  cancelled: 1,
  "deadline-exceeded": 4,
  "resource-exhausted": 8,
  internal: 13,
  unavailable: 14,
};

/**
 * The retry policy in effect for a route.
 * @example resolveRetryPolicy(undefined).attempts === 2
 */
export function resolveRetryPolicy(retries: HTTPRetry | undefined, hashing = false): RetryPolicy {
  const base: RetryPolicy = {
    attempts: DEFAULT_ATTEMPTS,
    retryOn: DEFAULT_RETRY_ON,
    retriableStatusCodes: [],
    backoffBaseMs: DEFAULT_BACKOFF_MS,
    backoffMaxMs: DEFAULT_BACKOFF_MS * 10,
    retryRemoteLocalities: false,
    // Envoy's previous_hosts predicate; Istio leaves it out with consistent hashing.
    retryIgnorePreviousHosts: !hashing,
  };
  if (retries === undefined) return base;
  const attempts = retries.attempts ?? 0;
  if (attempts <= 0) return { ...base, attempts: 0, retryOn: [] };
  const out: RetryPolicy = { ...base, attempts };
  if (retries.retryOn !== undefined && retries.retryOn.trim() !== "") {
    const conditions: string[] = [];
    const codes: number[] = [];
    for (const raw of retries.retryOn.split(",")) {
      const token = raw.trim();
      if (token === "") continue;
      if (/^\d+$/.test(token)) {
        const code = Number(token);
        if (code >= 100 && code <= 599 && !codes.includes(code)) codes.push(code);
      } else if (!conditions.includes(token)) {
        conditions.push(token);
      }
    }
    if (codes.length > 0 && !conditions.includes("retriable-status-codes")) conditions.push("retriable-status-codes");
    out.retryOn = conditions;
    out.retriableStatusCodes = codes;
  }
  if (retries.perTryTimeout !== undefined) {
    const ms = parseDurationMs(retries.perTryTimeout);
    if (ms !== undefined && ms > 0) out.perTryTimeoutMs = ms;
  }
  if (retries.backoff !== undefined) {
    const ms = parseDurationMs(retries.backoff);
    if (ms !== undefined && ms > 0) out.backoffBaseMs = ms;
    out.backoffMaxMs = out.backoffBaseMs * 10;
  }
  if (retries.retryRemoteLocalities === true) out.retryRemoteLocalities = true;
  if (retries.retryIgnorePreviousHosts === false) out.retryIgnorePreviousHosts = false;
  return out;
}

/**
 * Whether to retry after a try ended with `outcome`, given `retriesDone`
 * retries already made. Pure; `rng` jitters the backoff the way Envoy does
 * (uniform in `[0, (2^n - 1) * base)`, capped at 10 x base).
 */
export function retryDecision(policy: RetryPolicy, outcome: AttemptOutcome, retriesDone: number, rng: () => number = Math.random): RetryDecision {
  if (retriesDone >= policy.attempts) return { retry: false, reason: "retries exhausted" };
  const reason = retryReason(policy, outcome);
  if (reason === undefined) return { retry: false, reason: "not retriable" };
  const n = retriesDone + 1;
  const ceiling = (2 ** n - 1) * policy.backoffBaseMs;
  return { retry: true, reason, backoffMs: Math.min(Math.floor(rng() * ceiling), policy.backoffMaxMs) };
}

/** Conditions checked per outcome kind, in Envoy's order (module constants: no per-call arrays). */
const CONNECT_FAILURE_ON: readonly string[] = ["connect-failure", "reset-before-request", "5xx", "gateway-error", "reset"];
const REFUSED_STREAM_ON: readonly string[] = ["refused-stream", "5xx", "gateway-error", "reset"];
const RESET_ON: readonly string[] = ["5xx", "gateway-error", "reset"];
const GRPC_CONDITION_ENTRIES: readonly (readonly [string, number])[] = Object.entries(GRPC_CONDITIONS);

/** The first of `candidates` the policy retries on (a plain function: called once per upstream response, it allocates nothing). */
function firstOn(retryOn: readonly string[], candidates: readonly string[]): string | undefined {
  for (const c of candidates) if (retryOn.includes(c)) return c;
  return undefined;
}

function retryReason(policy: RetryPolicy, outcome: AttemptOutcome): string | undefined {
  const on = policy.retryOn;
  switch (outcome.kind) {
    case "connect-failure":
      return firstOn(on, CONNECT_FAILURE_ON);
    case "refused-stream":
      return firstOn(on, REFUSED_STREAM_ON);
    case "reset":
    case "per-try-timeout":
      return firstOn(on, RESET_ON);
    case "response": {
      if (on.length === 0) return undefined;
      const s = outcome.status;
      if (on.includes("5xx") && s >= 500 && s <= 599) return "5xx";
      if (on.includes("gateway-error") && (s === 502 || s === 503 || s === 504)) return "gateway-error";
      if (on.includes("retriable-4xx") && s === 409) return "retriable-4xx";
      if (on.includes("retriable-status-codes") && policy.retriableStatusCodes.includes(s)) return "retriable-status-codes";
      if (on.includes("envoy-ratelimited") && outcome.headers?.has("x-envoy-ratelimited") === true) return "envoy-ratelimited";
      const grpc = outcome.headers?.get("grpc-status");
      if (grpc !== undefined && grpc !== null) {
        const code = Number(grpc);
        for (const [name, value] of GRPC_CONDITION_ENTRIES) if (code === value && on.includes(name)) return name;
      }
      return undefined;
    }
  }
}
