/**
 * The RateLimitPolicy kind: validated like every other kind (field paths in errors), compiled
 * into the gateway snapshot with Gateway targets expanded, and matched to buckets at request time.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { parse } from "yaml";
import { validateResource } from "../../src/core/config/validate.ts";
import type { AnyResource } from "../../src/core/config/resource.ts";
import { compileSnapshots } from "../../src/core/snapshot/compile-snapshots.ts";
import { RateLimitTable } from "../../src/edge-gateway/rate-limit/rate-limit-table.ts";
import { FixedWindowCounter } from "../../src/edge-gateway/rate-limit/rate-limiter.ts";

function policy(spec: unknown): unknown {
  return { apiVersion: "gateway.strait.dev/v1alpha1", kind: "RateLimitPolicy", metadata: { name: "rl", namespace: "shop" }, spec };
}

const GOOD = {
  targetRefs: [{ kind: "VirtualService", name: "shop", sectionName: "api" }],
  rateLimit: { type: "Global", global: { rules: [{ clientSelectors: [{ headers: [{ name: "x-user", type: "Distinct" }] }], limit: { requests: 10, unit: "Minute" } }] } },
};

test("a valid RateLimitPolicy is accepted and stored as gateway.strait.dev/v1alpha1", () => {
  const r = validateResource(policy(GOOD));
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  assert.equal(r.resource.apiVersion, "gateway.strait.dev/v1alpha1");
});

const BAD: [string, unknown, string][] = [
  ["no targets", { ...GOOD, targetRefs: [] }, "spec.targetRefs"],
  ["unknown target kind", { ...GOOD, targetRefs: [{ kind: "Service", name: "x" }] }, "spec.targetRefs[0].kind"],
  ["another namespace", { ...GOOD, targetRefs: [{ kind: "VirtualService", name: "x", namespace: "other" }] }, "spec.targetRefs[0].namespace"],
  ["sectionName on a Gateway", { ...GOOD, targetRefs: [{ kind: "Gateway", name: "edge", sectionName: "a" }] }, "spec.targetRefs[0].sectionName"],
  ["Local type", { ...GOOD, rateLimit: { ...GOOD.rateLimit, type: "Local" } }, "spec.rateLimit.type"],
  ["zero requests", { ...GOOD, rateLimit: { type: "Global", global: { rules: [{ limit: { requests: 0, unit: "Second" } }] } } }, "spec.rateLimit.global.rules[0].limit.requests"],
  ["a day unit", { ...GOOD, rateLimit: { type: "Global", global: { rules: [{ limit: { requests: 1, unit: "Day" } }] } } }, "spec.rateLimit.global.rules[0].limit.unit"],
  ["no rules", { ...GOOD, rateLimit: { type: "Global", global: { rules: [] } } }, "spec.rateLimit.global.rules"],
  ["bad CIDR", { ...GOOD, rateLimit: { type: "Global", global: { rules: [{ clientSelectors: [{ sourceCIDR: { value: "10.0.0.0/99" } }], limit: { requests: 1, unit: "Hour" } }] } } }, "spec.rateLimit.global.rules[0].clientSelectors[0].sourceCIDR.value"],
  ["Exact header without value", { ...GOOD, rateLimit: { type: "Global", global: { rules: [{ clientSelectors: [{ headers: [{ name: "x-plan", type: "Exact" }] }], limit: { requests: 1, unit: "Hour" } }] } } }, "spec.rateLimit.global.rules[0].clientSelectors[0].headers[0].value"],
  ["uppercase header", { ...GOOD, rateLimit: { type: "Global", global: { rules: [{ clientSelectors: [{ headers: [{ name: "X-User", type: "Distinct" }] }], limit: { requests: 1, unit: "Hour" } }] } } }, "spec.rateLimit.global.rules[0].clientSelectors[0].headers[0].name"],
  ["empty selector", { ...GOOD, rateLimit: { type: "Global", global: { rules: [{ clientSelectors: [{}], limit: { requests: 1, unit: "Hour" } }] } } }, "spec.rateLimit.global.rules[0].clientSelectors[0]"],
  ["unknown field", { ...GOOD, burst: 3 }, "spec.burst"],
];

for (const [name, spec, field] of BAD) {
  test(`refused with the field path: ${name}`, () => {
    const r = validateResource(policy(spec));
    assert.equal(r.ok, false);
    assert.ok(!r.ok && r.errors.some((e) => e.path === field), `${field} in ${JSON.stringify(!r.ok && r.errors)}`);
  });
}

const CONFIG = `
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge, namespace: shop }
spec: { servers: [{ port: { number: 80, name: http, protocol: HTTP }, hosts: ["*.example.com"] }] }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: shop, namespace: shop }
spec:
  hosts: ["shop.example.com"]
  gateways: ["edge"]
  http: [{ name: api, route: [{ destination: { host: web } }] }]
---
apiVersion: gateway.strait.dev/v1alpha1
kind: RateLimitPolicy
metadata: { name: whole-gateway, namespace: shop }
spec:
  targetRefs: [{ kind: Gateway, name: edge }]
  rateLimit:
    type: Global
    global:
      rules:
        - clientSelectors: [{ sourceCIDR: { type: Distinct, value: 10.0.0.0/8 } }]
          limit: { requests: 5, unit: Second }
`;

test("compiled into the gateway snapshot: a Gateway target becomes the VirtualServices bound to it", () => {
  const resources = CONFIG.split(/^---$/m).map((d) => {
    const r = validateResource(parse(d));
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
    return r.resource as AnyResource;
  });
  const { gateway } = compileSnapshots({ resources, trustDomain: "strait.local" });
  assert.deepEqual(gateway.rateLimitPolicies?.[0]?.routes, [{ virtualService: "shop/shop" }]);
  const table = new RateLimitTable(gateway.rateLimitPolicies ?? []);
  const inside = table.bucketsFor({ virtualService: "shop/shop", routeName: "api", headers: new Map(), clientIp: "10.1.2.3" });
  assert.equal(inside.length, 1);
  assert.match(inside[0]!.key, /ip:10\.1\.2\.3$/);
  assert.equal(inside[0]!.windowSeconds, 1);
  assert.deepEqual(table.bucketsFor({ virtualService: "shop/shop", headers: new Map(), clientIp: "192.168.1.1" }), [], "outside the CIDR: not limited");
  assert.deepEqual(table.bucketsFor({ virtualService: "other/vs", headers: new Map(), clientIp: "10.1.2.3" }), []);
});

test("fixed windows: N per window, Retry-After until the window resets", () => {
  const c = new FixedWindowCounter();
  const t0 = 60_000 * 10 + 15_000;
  for (let i = 0; i < 3; i++) assert.equal(c.hit(t0, 3, 60).allowed, true);
  const over = c.hit(t0, 3, 60);
  assert.equal(over.allowed, false);
  assert.equal(over.retryAfterSeconds, 45);
  assert.equal(c.hit(60_000 * 11, 3, 60).allowed, true, "a new window");
});
