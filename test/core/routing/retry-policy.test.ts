/** Retry policy resolution (Istio defaults) and pure retry decisions (Envoy conditions). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { resolveRetryPolicy, retryDecision, type AttemptOutcome, type RetryPolicy } from "../../../src/core/routing/index.ts";
import { sequence } from "./fixtures.ts";

const decide = (p: RetryPolicy, o: AttemptOutcome, done = 0) => retryDecision(p, o, done, sequence(0.5));

test("retry: Istio's default policy retries connect failures, refused streams and gRPC unavailable/cancelled, not 503", () => {
  const p = resolveRetryPolicy(undefined);
  assert.equal(decide(p, { kind: "connect-failure" }).retry, true);
  assert.equal(decide(p, { kind: "refused-stream" }).retry, true);
  assert.equal(decide(p, { kind: "response", status: 200, headers: new Map([["grpc-status", "14"]]) }).retry, true);
  assert.equal(decide(p, { kind: "response", status: 200, headers: new Map([["grpc-status", "1"]]) }).retry, true);
  assert.equal(decide(p, { kind: "response", status: 503 }).retry, false, "503 was removed from the default (istio#52111)");
  assert.equal(decide(p, { kind: "reset" }).retry, false);
  assert.equal(decide(p, { kind: "connect-failure" }, 2).retry, false, "2 retries then stop");
});

test("retry: 5xx covers 5xx responses, resets, connect failures and per-try timeouts", () => {
  const p = resolveRetryPolicy({ attempts: 3, retryOn: "5xx" });
  for (const o of [{ kind: "response", status: 500 }, { kind: "response", status: 599 }, { kind: "reset" }, { kind: "connect-failure" }, { kind: "per-try-timeout" }] as AttemptOutcome[]) {
    assert.equal(decide(p, o).retry, true, JSON.stringify(o));
  }
  assert.equal(decide(p, { kind: "response", status: 429 }).retry, false);
});

test("retry: gateway-error is 502/503/504 only; retriable-4xx is 409; numeric codes become retriable status codes", () => {
  const g = resolveRetryPolicy({ attempts: 1, retryOn: "gateway-error" });
  assert.deepEqual([500, 502, 503, 504].map((s) => decide(g, { kind: "response", status: s }).retry), [false, true, true, true]);
  const c = resolveRetryPolicy({ attempts: 1, retryOn: "retriable-4xx, 429 ,418" });
  assert.deepEqual(c.retryOn, ["retriable-4xx", "retriable-status-codes"]);
  assert.deepEqual(c.retriableStatusCodes, [429, 418]);
  assert.deepEqual([409, 418, 429, 500].map((s) => decide(c, { kind: "response", status: s }).retry), [true, true, true, false]);
});

test("retry: connect-failure, reset and refused-stream conditions are distinct", () => {
  const cf = resolveRetryPolicy({ attempts: 1, retryOn: "connect-failure" });
  assert.deepEqual(["connect-failure", "reset", "refused-stream", "per-try-timeout"].map((k) => decide(cf, { kind: k } as AttemptOutcome).retry), [true, false, false, false]);
  const rs = resolveRetryPolicy({ attempts: 1, retryOn: "reset" });
  assert.deepEqual(["connect-failure", "reset", "refused-stream", "per-try-timeout"].map((k) => decide(rs, { kind: k } as AttemptOutcome).retry), [true, true, true, true]);
  const rf = resolveRetryPolicy({ attempts: 1, retryOn: "refused-stream" });
  assert.deepEqual(["connect-failure", "reset", "refused-stream"].map((k) => decide(rf, { kind: k } as AttemptOutcome).retry), [false, false, true]);
});

test("retry: attempts 0 disables; retries without retryOn keep Istio's default conditions; backoff is jittered exponential, capped", () => {
  assert.equal(decide(resolveRetryPolicy({ attempts: 0, retryOn: "5xx" }), { kind: "response", status: 500 }).retry, false);
  const p = resolveRetryPolicy({ attempts: 5, perTryTimeout: "250ms", backoff: "10ms" });
  assert.deepEqual([p.retryOn, p.perTryTimeoutMs, p.backoffBaseMs, p.backoffMaxMs], [["connect-failure", "refused-stream", "unavailable", "cancelled", "retriable-status-codes"], 250, 10, 100]);
  const backoffs = [0, 1, 2, 3, 4].map((done) => {
    const d = retryDecision(p, { kind: "connect-failure" }, done, sequence(0.999));
    return d.retry ? d.backoffMs : -1;
  });
  // (2^n - 1) * 10ms, just under, capped at 100ms.
  assert.deepEqual(backoffs, [9, 29, 69, 100, 100]);
  assert.equal(resolveRetryPolicy({ attempts: 2, retryIgnorePreviousHosts: false }).retryIgnorePreviousHosts, false);
});
