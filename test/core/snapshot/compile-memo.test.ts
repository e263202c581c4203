/**
 * The compile memo and a long-lived splitter change nothing but the work done: after every step of
 * a sequence of edits (each replacing only the resources it changes, as the publisher's mirror
 * does), compiling with the memo gives byte-identical snapshots to a compile from scratch, and a
 * splitter kept across runs gives the same layouts as a fresh one.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { AnyResource } from "../../../src/core/config/resource.ts";
import { CompileMemo } from "../../../src/core/snapshot/compile-memo.ts";
import { prepareContext } from "../../../src/core/snapshot/compile-context.ts";
import { compileGatewaySnapshot } from "../../../src/core/snapshot/compile-gateway.ts";
import { compileNodeSnapshot } from "../../../src/core/snapshot/compile-node.ts";
import { compileSnapshots, targetNodes } from "../../../src/core/snapshot/compile-snapshots.ts";
import { SnapshotSplitter } from "../../../src/core/snapshot/snapshot-layout.ts";
import { DEFAULT_DOMAIN_SUFFIX } from "../../../src/core/config/hosts.ts";
import type { Revocation, Snapshot } from "../../../src/core/snapshot/snapshot-model.ts";
import { resources } from "./fixtures.ts";
import { syntheticMesh } from "./synthetic-mesh.ts";

const TD = "strait.local";

const EXTRA = resources(`
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: svc1, namespace: ns1 }
spec:
  host: svc1
  workloadSelector: { matchLabels: { app: svc21 } }
  subsets: [{ name: v1, labels: { version: v1 } }, { name: v2, labels: { version: v2 } }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: all, namespace: ns2 }
spec: { host: "*.example.com", trafficPolicy: { loadBalancer: { simple: LEAST_REQUEST } } }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ns1-allow, namespace: ns1 }
spec: { action: ALLOW, rules: [{ from: [{ source: { namespaces: [ns1] } }] }] }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: mesh-deny, namespace: strait-system }
spec: { action: DENY, rules: [{ to: [{ operation: { paths: [/admin] } }] }] }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: svc2-only, namespace: ns2 }
spec: { selector: { matchLabels: { app: svc2 } }, action: ALLOW, rules: [{ to: [{ operation: { methods: [GET] } }] }] }
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: strait-system }
spec: { mtls: { mode: STRICT } }
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: edge-jwt, namespace: ingress }
spec: { jwtRules: [{ issuer: https://issuer.example.com, jwksUri: https://issuer.example.com/jwks }] }
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: { name: default, namespace: ns3 }
spec: { egress: [{ hosts: ["./*", "ns1/*"] }], outboundTrafficPolicy: { mode: REGISTRY_ONLY } }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: external, namespace: ns4 }
spec:
  hosts: [api.example.org]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{ number: 443, name: https, protocol: HTTPS }]
  endpoints: [{ address: 192.0.2.10 }]
  exportTo: [".", ns5]
---
apiVersion: gateway.strait.dev/v1alpha1
kind: RateLimitPolicy
metadata: { name: edge, namespace: ingress }
spec:
  targetRefs: [{ kind: Gateway, name: edge }]
  rateLimit:
    type: Global
    global:
      rules:
        - clientSelectors: [{ headers: [{ name: x-user, type: Distinct }] }]
          limit: { requests: 10, unit: Second }
`);

type Edit = (rs: AnyResource[]) => AnyResource[];

/** Replaces the resource named `kind/ns/name` with `f(it)` (a new object); other objects stay. */
function replace(kind: string, ns: string, name: string, f: (r: AnyResource) => AnyResource | undefined): Edit {
  return (rs) => {
    const i = rs.findIndex((r) => r.kind === kind && r.metadata.namespace === ns && r.metadata.name === name);
    assert.ok(i >= 0, `${kind}/${ns}/${name} exists`);
    const out = [...rs];
    const next = f(structuredClone(rs[i]!));
    if (next === undefined) out.splice(i, 1);
    else out[i] = next;
    return out;
  };
}

const add =
  (...more: AnyResource[]): Edit =>
  (rs) => [...rs, ...more];

const STEPS: { name: string; edit: Edit; revocations?: Revocation[] }[] = [
  { name: "nothing changes", edit: (rs) => [...rs] },
  { name: "a workload's port", edit: replace("WorkloadEntry", "ns3", "svc3-1", (r) => ({ ...r, spec: { ...r.spec, ports: { http: 9003 } } }) as AnyResource) },
  { name: "a workload moves to another node", edit: replace("WorkloadEntry", "ns5", "svc5-1", (r) => ({ ...r, metadata: { ...r.metadata, labels: { "strait.io/cluster": "c1", "strait.io/node": "n0" } } }) as AnyResource) },
  { name: "a workload stops matching its service", edit: replace("WorkloadEntry", "ns2", "svc2-1", (r) => ({ ...r, spec: { ...r.spec, labels: { app: "other" } } }) as AnyResource) },
  { name: "a second workload joins a service", edit: add(...resources(`
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: { name: svc1-2, namespace: ns1, labels: { strait.io/cluster: c1, strait.io/node: n2 } }
spec: { address: 10.9.0.1, serviceAccount: svc1, labels: { app: svc1, version: v2 } }
`)) },
  { name: "a workload is deleted", edit: replace("WorkloadEntry", "ns7", "svc7-1", () => undefined) },
  { name: "a VirtualService changes its routes", edit: replace("VirtualService", "ns0", "svc0", (r) => ({ ...r, spec: { ...r.spec, http: [{ route: [{ destination: { host: "svc0", subset: "v1" } }] }] } }) as AnyResource) },
  { name: "a policy gets a selector", edit: replace("AuthorizationPolicy", "ns1", "ns1-allow", (r) => ({ ...r, spec: { ...r.spec, selector: { matchLabels: { app: "svc1" } } } }) as AnyResource) },
  { name: "a Sidecar widens its egress", edit: replace("Sidecar", "ns3", "default", (r) => ({ ...r, spec: { egress: [{ hosts: ["*/*"] }] } }) as AnyResource) },
  { name: "a revocation", edit: (rs) => [...rs], revocations: [{ spiffeId: `spiffe://${TD}/ns/ns1/sa/svc1`, revokedAt: 1_700_000_000 }] },
  { name: "the same revocation, unchanged", edit: (rs) => [...rs], revocations: [{ spiffeId: `spiffe://${TD}/ns/ns1/sa/svc1`, revokedAt: 1_700_000_000 }] },
  { name: "the gateway's server hosts change", edit: replace("Gateway", "ingress", "edge", (r) => ({ ...r, spec: { ...r.spec, servers: [{ port: { number: 80, name: "http", protocol: "HTTP" }, hosts: ["svc10.example.com", "svc20.example.com"] }] } }) as AnyResource) },
  { name: "the rate limit moves to one VirtualService", edit: replace("RateLimitPolicy", "ingress", "edge", (r) => ({ ...r, metadata: { ...r.metadata, namespace: "ingress" }, spec: { ...r.spec, targetRefs: [{ kind: "VirtualService", name: "svc10" }] } }) as AnyResource) },
  { name: "a ServiceEntry is deleted", edit: replace("ServiceEntry", "ns4", "svc4", () => undefined) },
  { name: "the edge-ingress annotation is set", edit: replace("WorkloadEntry", "ns6", "svc6-1", (r) => ({ ...r, metadata: { ...r.metadata, annotations: { "strait.io/edge-ingress": "10.0.0.6:15443" } } }) as AnyResource) },
];

function compileWith(rs: readonly AnyResource[], revocations: readonly Revocation[], memo: CompileMemo): Snapshot[] {
  const ctx = prepareContext({ resources: rs, revocations, trustDomain: TD, memo });
  return [compileGatewaySnapshot(ctx), ...targetNodes({ resources: rs, trustDomain: TD }).map((n) => compileNodeSnapshot(ctx, n))];
}

test("with a memo kept across edits, every snapshot equals a compile from scratch, byte for byte", () => {
  const memo = new CompileMemo({ trustDomain: TD, rootNamespace: "strait-system", domainSuffix: DEFAULT_DOMAIN_SUFFIX });
  let rs: AnyResource[] = [...syntheticMesh(40, 4), ...EXTRA];
  let revocations: Revocation[] = [];
  let reused = 0;
  let previous: Snapshot[] = compileWith(rs, revocations, memo);
  for (const step of STEPS) {
    rs = step.edit(rs);
    if (step.revocations !== undefined) revocations = step.revocations;
    const memoised = compileWith(rs, revocations, memo);
    const scratch = compileSnapshots({ resources: rs, revocations, trustDomain: TD });
    const expected = [scratch.gateway, ...scratch.nodes];
    assert.equal(memoised.length, expected.length, step.name);
    memoised.forEach((s, i) => assert.equal(JSON.stringify(s), JSON.stringify(expected[i]), `${step.name}: target ${i}`));
    // The memo hands back last compile's objects for what did not change.
    const before = new Set(previous.flatMap((s) => Object.values(s).filter(Array.isArray).flat()));
    reused += memoised.flatMap((s) => Object.values(s).filter(Array.isArray).flat()).filter((item) => before.has(item)).length;
    previous = memoised;
  }
  assert.ok(reused > 1000, `unchanged items are reused (${reused})`);
});

test("the memo is not used for another trust domain", () => {
  const memo = new CompileMemo({ trustDomain: TD, rootNamespace: "strait-system", domainSuffix: DEFAULT_DOMAIN_SUFFIX });
  const rs = syntheticMesh(5, 2);
  prepareContext({ resources: rs, trustDomain: TD, memo });
  const other = prepareContext({ resources: rs, trustDomain: "other.local", memo });
  assert.equal(other.memo, undefined);
  assert.equal(JSON.stringify(compileGatewaySnapshot(other)), JSON.stringify(compileSnapshots({ resources: rs, trustDomain: "other.local" }).gateway));
});

test("a splitter kept across runs gives the layouts of a fresh one and builds only blobs not stored", async () => {
  const memo = new CompileMemo({ trustDomain: TD, rootNamespace: "strait-system", domainSuffix: DEFAULT_DOMAIN_SUFFIX });
  const stored = new Set<string>();
  const kept = new SnapshotSplitter({ maxBlobBytes: 1 << 20, isStored: (h) => stored.has(h) });
  let rs: AnyResource[] = [...syntheticMesh(40, 4), ...EXTRA];
  let revocations: Revocation[] = [];
  let firstRunBlobs = 0;
  for (const [i, step] of [{ name: "first", edit: (x: AnyResource[]) => x } as (typeof STEPS)[number], ...STEPS].entries()) {
    rs = step.edit(rs);
    if (step.revocations !== undefined) revocations = step.revocations;
    const snapshots = compileWith(rs, revocations, memo);
    kept.newRun();
    const fresh = new SnapshotSplitter({ maxBlobBytes: 1 << 20 });
    let built = 0;
    for (const s of snapshots) {
      const a = await kept.split(s);
      const b = await fresh.split(s);
      assert.deepEqual(a.layout, b.layout, `${step.name}: same layout`);
      const needed = new Map(b.blobs.map((x) => [x.hash, x.bytes]));
      for (const blob of a.blobs) {
        assert.ok(!stored.has(blob.hash), "a stored blob is not built again");
        assert.deepEqual(blob.bytes, needed.get(blob.hash), "a built blob has the fresh splitter's bytes");
        stored.add(blob.hash);
        built++;
      }
      for (const h of [a.layout.base, ...Object.values(a.layout.parts).flat()]) assert.ok(stored.has(h), `${step.name}: every blob of the layout is stored`);
    }
    kept.endRun();
    if (i === 0) firstRunBlobs = built;
    else assert.ok(built < firstRunBlobs / 2, `${step.name}: a small edit builds few blobs (${built} of ${firstRunBlobs})`);
  }
});

test("an array shared by two targets is chunked once per run, and the second target still waits for its unstored blobs", async () => {
  const stored = new Set<string>();
  const splitter = new SnapshotSplitter({ maxBlobBytes: 1 << 20, isStored: (h) => stored.has(h) });
  const shared = Array.from({ length: 300 }, (_, i) => ({ host: `svc${i}.example`, port: 80 + (i % 7) }));
  const node = (name: string) => ({ type: "node", trustDomain: TD, node: { cluster: "c1", node: name }, workloads: [], inbound: [], outbound: shared, routes: [] }) as unknown as Snapshot;
  splitter.newRun();
  const a = await splitter.split(node("a"));
  const b = await splitter.split(node("b"));
  assert.deepEqual(b.layout.parts.outbound, a.layout.parts.outbound);
  const outboundBlobs = (x: typeof a) => x.blobs.filter((blob) => x.layout.parts.outbound!.includes(blob.hash)).map((blob) => blob.hash).sort();
  assert.ok(outboundBlobs(a).length > 1);
  // Nothing stored yet: b must write (or wait for) the same blobs before its manifest goes live.
  assert.deepEqual(outboundBlobs(b), outboundBlobs(a));
  for (const blob of a.blobs) stored.add(blob.hash);
  const c = await splitter.split(node("c"));
  assert.deepEqual(outboundBlobs(c), [], "once stored, a later target needs none of them");
  // A fresh splitter agrees on the layout.
  assert.deepEqual((await new SnapshotSplitter({ maxBlobBytes: 1 << 20 }).split(node("b"))).layout, b.layout);
  splitter.endRun();
});
