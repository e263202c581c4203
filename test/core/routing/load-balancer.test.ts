/**
 * Load balancers: ROUND_ROBIN, LEAST_REQUEST (P2C), RANDOM, consistent hash on
 * a ring or Maglev; excluded (outlier-ejected) endpoints are skipped.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createLoadBalancer, planRequest, type UpstreamEndpoint } from "../../../src/core/routing/index.ts";
import { docs, GATEWAY, gatewayTable, gatewayVs, req, seeded, service } from "./fixtures.ts";

const eps = (n: number, weight = 1): UpstreamEndpoint[] => Array.from({ length: n }, (_, i) => ({ address: `10.0.0.${i + 1}`, port: 8080, labels: {}, weight }));
const count = (picks: (UpstreamEndpoint | undefined)[]) => {
  const m: Record<string, number> = {};
  for (const p of picks) if (p !== undefined) m[p.address] = (m[p.address] ?? 0) + 1;
  return m;
};

test("lb: ROUND_ROBIN rotates and skips excluded endpoints", () => {
  const lb = createLoadBalancer({ simple: "ROUND_ROBIN" });
  const e = eps(3);
  assert.deepEqual(Array.from({ length: 6 }, () => lb.pick(e)!.address), ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.1", "10.0.0.2", "10.0.0.3"]);
  const ejected = new Set(["10.0.0.2"]);
  const picks = Array.from({ length: 4 }, () => lb.pick(e, { exclude: (x) => ejected.has(x.address) })!.address);
  assert.ok(!picks.includes("10.0.0.2"));
  assert.deepEqual(new Set(picks), new Set(["10.0.0.1", "10.0.0.3"]));
  assert.equal(lb.pick(e, { exclude: () => true }), undefined);
});

test("lb: ROUND_ROBIN honours endpoint weights (smooth)", () => {
  const lb = createLoadBalancer({ simple: "ROUND_ROBIN" });
  const e = [{ ...eps(1)[0]!, weight: 3 }, eps(2)[1]!];
  assert.deepEqual(count(Array.from({ length: 8 }, () => lb.pick(e))), { "10.0.0.1": 6, "10.0.0.2": 2 });
});

test("lb: LEAST_REQUEST (the default) prefers the endpoint with fewer active requests", () => {
  const lb = createLoadBalancer(undefined, seeded(3));
  const e = eps(2);
  // Hold 5 requests on .1 by picking it with everything else excluded.
  for (let i = 0; i < 5; i++) lb.pick(e, { exclude: (x) => x.address !== "10.0.0.1" });
  const picks = Array.from({ length: 10 }, () => lb.pick(e)!);
  // Two endpoints: P2C always compares both, so .2 takes picks until it has as many active as .1.
  assert.deepEqual(count(picks.slice(0, 5)), { "10.0.0.2": 5 });
  for (const p of picks) lb.release(p);
  for (const x of e) for (let i = 0; i < 5; i++) lb.release(x);
  const after = count(Array.from({ length: 400 }, () => {
    const p = lb.pick(e)!;
    lb.release(p);
    return p;
  }));
  assert.ok((after["10.0.0.1"] ?? 0) > 100 && (after["10.0.0.2"] ?? 0) > 100, JSON.stringify(after));
  assert.equal(createLoadBalancer({ simple: "LEAST_CONN" }).constructor, lb.constructor, "LEAST_CONN is an alias");
});

test("lb: RANDOM spreads picks over eligible endpoints", () => {
  const lb = createLoadBalancer({ simple: "RANDOM" }, seeded(11));
  const c = count(Array.from({ length: 3000 }, () => lb.pick(eps(3), { exclude: (x) => x.address === "10.0.0.3" })));
  assert.deepEqual(Object.keys(c).sort(), ["10.0.0.1", "10.0.0.2"]);
  assert.ok(Math.abs(c["10.0.0.1"]! - 1500) < 150, JSON.stringify(c));
});

for (const [name, settings] of [
  ["ring hash", { consistentHash: { httpHeaderName: "x-user", ringHash: { minimumRingSize: 1024 } } }],
  ["Maglev", { consistentHash: { httpHeaderName: "x-user", maglev: { tableSize: 65537 } } }],
] as const) {
  test(`lb: consistent hash (${name}) is sticky per key, spreads keys, and moves only an ejected endpoint's keys`, () => {
    const lb = createLoadBalancer(settings);
    const e = eps(5);
    const keys = Array.from({ length: 2000 }, (_, i) => `user-${i}`);
    const first = keys.map((k) => lb.pick(e, { hashKey: k })!.address);
    assert.deepEqual(keys.map((k) => lb.pick(e, { hashKey: k })!.address), first, "same key, same endpoint");
    const spread = count(first.map((a) => ({ address: a }) as UpstreamEndpoint));
    assert.equal(Object.keys(spread).length, 5);
    for (const n of Object.values(spread)) assert.ok(n > 200 && n < 650, JSON.stringify(spread));
    const ejected = "10.0.0.3";
    const after = keys.map((k) => lb.pick(e, { hashKey: k, exclude: (x) => x.address === ejected })!.address);
    keys.forEach((_, i) => {
      assert.notEqual(after[i], ejected);
      if (first[i] !== ejected) assert.equal(after[i], first[i], "keys of healthy endpoints stay put");
    });
    // A fresh balancer over the same endpoints agrees (the hash is a pure function of the config).
    const again = createLoadBalancer(settings);
    assert.deepEqual(keys.slice(0, 50).map((k) => again.pick(e, { hashKey: k })!.address), first.slice(0, 50));
  });
}

test("lb: consistent hash without a hash key picks at random among eligible endpoints", () => {
  const lb = createLoadBalancer({ consistentHash: { useSourceIp: true } }, seeded(5));
  const c = count(Array.from({ length: 300 }, () => lb.pick(eps(3))));
  assert.equal(Object.keys(c).length, 3);
});

test("lb: the plan's endpoints and hash key drive the balancer end to end", () => {
  const t = gatewayTable(
    docs(
      GATEWAY,
      gatewayVs("  - route: [{destination: {host: web}}]\n"),
      service("web", "shop", [{ address: "10.0.0.1" }, { address: "10.0.0.2" }, { address: "10.0.0.3" }]),
      `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: shop}
spec:
  host: web
  trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-user}}}
`,
    ),
  );
  const lb = (() => {
    const p = planRequest(t, req());
    assert.equal(p.kind, "forward");
    return createLoadBalancer(p.kind === "forward" ? p.cluster.trafficPolicy.loadBalancer : undefined);
  })();
  const pickFor = (user: string) => {
    const p = planRequest(t, req({ headers: { "x-user": user } }));
    assert.ok(p.kind === "forward");
    return lb.pick(p.cluster.endpoints, p.hashKey === undefined ? {} : { hashKey: p.hashKey })!.address;
  };
  assert.equal(pickFor("alice"), pickFor("alice"));
  const distinct = new Set(Array.from({ length: 60 }, (_, i) => pickFor(`user${i}`)));
  assert.equal(distinct.size, 3);
});
