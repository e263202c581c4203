/**
 * Outlier detection and connection-pool limits as tables over a frozen clock: Istio's defaults,
 * ejection after consecutive 5xx / gateway errors, ejection time growing with each ejection,
 * the max-ejection-percent cap, return after the ejection time, and overflow (UO).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ManualClock } from "../../src/core/clock.ts";
import { OutlierDetector, outlierSettings, MAX_EJECTION_MS } from "../../src/node-proxy/resilience/outlier-detector.ts";
import { CircuitBreaker, PoolOverflowError, poolLimits } from "../../src/node-proxy/resilience/circuit-breaker.ts";
import { parseConnectTarget } from "../../src/node-proxy/outbound/connect-tunnel.ts";
import { hboneAddressOf } from "../../src/node-proxy/outbound/node-address.ts";
import { portProtocol } from "../../src/node-proxy/inbound/local-targets.ts";
import type { ServicePort } from "../../src/core/config/kinds/service-entry.ts";

const s500 = { kind: "status", status: 500 } as const;
const s503 = { kind: "status", status: 503 } as const;
const s200 = { kind: "status", status: 200 } as const;

describe("outlier detection", () => {
  test("Istio's defaults when outlierDetection is present", () => {
    assert.deepEqual(outlierSettings({}), { consecutive5xx: 5, consecutiveGateway: 0, intervalMs: 10_000, baseEjectionMs: 30_000, maxEjectionPercent: 10 });
  });

  test("ejects after consecutive 5xx, not when a success breaks the run", () => {
    const clock = new ManualClock(1_000_000);
    const od = new OutlierDetector(outlierSettings({ consecutive5xxErrors: 3, maxEjectionPercent: 100, baseEjectionTime: "10s" }), clock);
    od.record("a", s500, 2);
    od.record("a", s500, 2);
    od.record("a", s200, 2);
    od.record("a", s500, 2);
    assert.equal(od.isEjected("a"), false);
    od.record("a", s500, 2);
    od.record("a", s500, 2);
    assert.equal(od.isEjected("a"), true);
    clock.advance(9_999);
    assert.equal(od.isEjected("a"), true);
    clock.advance(1);
    assert.equal(od.isEjected("a"), false, "back after baseEjectionTime");
  });

  test("the ejection time grows with the number of ejections (base x n), capped at 300 s", () => {
    const clock = new ManualClock(0);
    const events: number[] = [];
    const od = new OutlierDetector(outlierSettings({ consecutive5xxErrors: 1, maxEjectionPercent: 100, baseEjectionTime: "100s", interval: "1000s" }), clock, (e) => events.push(e.ejectedForMs));
    for (let i = 0; i < 4; i++) {
      od.record("a", s500, 1);
      clock.advance(events.at(-1)!);
      assert.equal(od.isEjected("a"), false);
    }
    assert.deepEqual(events, [100_000, 200_000, MAX_EJECTION_MS, MAX_EJECTION_MS]);
  });

  test("healthy intervals forgive earlier ejections", () => {
    const clock = new ManualClock(0);
    const events: number[] = [];
    const od = new OutlierDetector(outlierSettings({ consecutive5xxErrors: 1, maxEjectionPercent: 100, baseEjectionTime: "10s", interval: "10s" }), clock, (e) => events.push(e.ejectedForMs));
    od.record("a", s500, 1);
    clock.advance(10_000);
    assert.equal(od.isEjected("a"), false);
    clock.advance(30_000); // three healthy intervals
    od.record("a", s500, 1);
    assert.deepEqual(events, [10_000, 10_000]);
  });

  test("consecutive gateway errors count 502/503/504 and connect failures only", () => {
    const clock = new ManualClock(0);
    const od = new OutlierDetector(outlierSettings({ consecutive5xxErrors: 0, consecutiveGatewayErrors: 2, maxEjectionPercent: 100 }), clock);
    od.record("a", s500, 1);
    od.record("a", s500, 1);
    assert.equal(od.isEjected("a"), false, "500 is not a gateway error");
    od.record("a", s503, 1);
    od.record("a", { kind: "connect-failure" }, 1);
    assert.equal(od.isEjected("a"), true);
  });

  test("maxEjectionPercent caps how much of the cluster is ejected (Envoy: 100 x (ejected + 1) / hosts)", () => {
    const clock = new ManualClock(0);
    const od = new OutlierDetector(outlierSettings({ consecutive5xxErrors: 1, maxEjectionPercent: 50 }), clock);
    od.record("a", s500, 4);
    od.record("b", s500, 4);
    od.record("c", s500, 4);
    assert.deepEqual(["a", "b", "c"].map((k) => od.isEjected(k)), [true, true, false]);
    const def = new OutlierDetector(outlierSettings({ consecutive5xxErrors: 1 }), clock);
    def.record("a", s500, 2);
    assert.equal(def.isEjected("a"), false, "Istio's default 10 % never ejects one of two hosts");
  });
});

describe("connection pool", () => {
  test("no limits by default", () => {
    const l = poolLimits(undefined);
    assert.equal(l.maxConnections, 2 ** 32 - 1);
    assert.equal(l.maxPending, 2 ** 32 - 1);
  });

  test("maxConnections + http1MaxPendingRequests: one active, one waiting, the third overflows; release lets the waiter in", async () => {
    const cb = new CircuitBreaker(poolLimits({ tcp: { maxConnections: 1 }, http: { http1MaxPendingRequests: 1 } }));
    const first = cb.acquire();
    assert.equal(typeof first, "function");
    const second = cb.acquire();
    assert.ok(second instanceof Promise);
    assert.throws(() => cb.acquire(), (e: unknown) => e instanceof PoolOverflowError && e.flag === "UO");
    (first as () => void)();
    const release2 = await second;
    assert.deepEqual(cb.stats(), { active: 1, pending: 0, retries: 0, connections: 0 });
    release2();
    release2();
    assert.equal(cb.stats().active, 0, "a release is idempotent");
  });

  test("http2MaxRequests bounds requests in flight; maxRetries bounds retries; TCP connections bounded", () => {
    assert.equal(poolLimits({ http: { http1MaxPendingRequests: 0 } }).maxPending, 2 ** 32 - 1, "0 is unset in Istio: no limit");
    const cb = new CircuitBreaker(poolLimits({ http: { http2MaxRequests: 2, http1MaxPendingRequests: 1, maxRetries: 1 }, tcp: { maxConnections: 1 } }));
    assert.equal(typeof cb.acquire(), "function");
    assert.ok(cb.acquire() instanceof Promise, "maxConnections 1 is the tighter bound: the second request waits");
    assert.throws(() => cb.acquire(), PoolOverflowError);
    const retry = cb.tryRetry();
    assert.equal(typeof retry, "function");
    assert.equal(cb.tryRetry(), false);
    const conn = cb.openConnection();
    assert.throws(() => cb.openConnection(), PoolOverflowError);
    conn();
    cb.openConnection();
  });
});

describe("small parsers", () => {
  test("CONNECT targets", () => {
    assert.deepEqual(parseConnectTarget("echo.shop:9000"), { host: "echo.shop", port: 9000 });
    assert.deepEqual(parseConnectTarget("[::1]:443"), { host: "[::1]", port: 443 });
    for (const bad of [undefined, "", "echo", "echo:0", "echo:70000", "echo:80/x", "a b:80", "http://x:80"]) assert.equal(parseConnectTarget(bad), undefined, String(bad));
  });

  test("a node's HBONE address: label overrides, else the endpoint address and the default port", () => {
    assert.deepEqual(hboneAddressOf({ address: "10.0.0.5", labels: {} }), { host: "10.0.0.5", port: 15008 });
    assert.deepEqual(hboneAddressOf({ address: "10.0.0.5", labels: { "strait.io/node-address": "node-7.internal", "strait.io/hbone-port": "25008" } }), { host: "node-7.internal", port: 25008 });
    assert.deepEqual(hboneAddressOf({ address: "10.0.0.5", labels: { "strait.io/hbone-port": "nope" } }, 16008), { host: "10.0.0.5", port: 16008 });
  });

  test("port protocol from protocol or Istio's name prefix", () => {
    assert.equal(portProtocol({ number: 80, protocol: "HTTP" } as ServicePort), "http");
    assert.equal(portProtocol({ number: 80, name: "http-web" }), "http");
    assert.equal(portProtocol({ number: 80, name: "grpc" }), "http");
    assert.equal(portProtocol({ number: 5432, protocol: "TCP" } as ServicePort), "tcp");
    assert.equal(portProtocol({ number: 5432, name: "pg" }), "tcp");
    assert.equal(portProtocol(undefined), "tcp");
  });
});
