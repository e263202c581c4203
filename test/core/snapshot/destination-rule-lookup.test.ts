/** DestinationRule lookup and merge (istio-semantics.md §2.10, pilot mergeDestinationRule). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { prepareContext } from "../../../src/core/snapshot/compile-context.ts";
import { resolveDestinationRule } from "../../../src/core/snapshot/destination-rule-lookup.ts";
import { resources } from "./fixtures.ts";

function dr(name: string, ns: string, created: string, body: string): string {
  return `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: ${ns}, creationTimestamp: "${created}"}
spec:
${body}`;
}

const T1 = "2024-01-01T00:00:00Z";
const T2 = "2024-02-01T00:00:00Z";
const T3 = "2024-03-01T00:00:00Z";

interface Case {
  name: string;
  yaml: string[];
  client?: { namespace: string; labels?: Record<string, string> };
  /** `undefined` = no DR applies. */
  expected: { sources: string[]; lb?: string; subsets?: string[] } | undefined;
}

const cases: Case[] = [
  {
    name: "DRs for one host merge: the first DR's top-level policy wins, new subsets are appended",
    yaml: [
      dr("newer", "shop", T2, "  host: reviews\n  trafficPolicy: {loadBalancer: {simple: RANDOM}}\n  subsets: [{name: v1, labels: {version: x}}, {name: v3, labels: {version: v3}}]\n"),
      dr("older", "shop", T1, "  host: reviews\n  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}\n  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]\n"),
    ],
    expected: { sources: ["shop/older", "shop/newer"], lb: "ROUND_ROBIN", subsets: ["v1:v1", "v2:v2", "v3:v3"] },
  },
  {
    name: "when the first DR has no top-level policy the next one's is used",
    yaml: [
      dr("older", "shop", T1, "  host: reviews\n  subsets: [{name: v1, labels: {version: v1}}]\n"),
      dr("newer", "shop", T2, "  host: reviews\n  trafficPolicy: {loadBalancer: {simple: RANDOM}}\n"),
    ],
    expected: { sources: ["shop/older", "shop/newer"], lb: "RANDOM", subsets: ["v1:v1"] },
  },
  {
    name: "the client's namespace comes before the service's namespace",
    yaml: [
      dr("svc", "shop", T1, "  host: reviews.shop.svc.cluster.local\n  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}\n"),
      dr("client", "web", T2, "  host: reviews.shop.svc.cluster.local\n  trafficPolicy: {loadBalancer: {simple: RANDOM}}\n"),
    ],
    client: { namespace: "web" },
    expected: { sources: ["web/client"], lb: "RANDOM" },
  },
  {
    name: "the service's namespace comes before the root namespace",
    yaml: [
      dr("mesh", "strait-system", T1, "  host: \"*.svc.cluster.local\"\n  trafficPolicy: {loadBalancer: {simple: RANDOM}}\n"),
      dr("svc", "shop", T2, "  host: reviews\n  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}\n"),
    ],
    client: { namespace: "web" },
    expected: { sources: ["shop/svc"], lb: "ROUND_ROBIN" },
  },
  {
    name: "the root namespace is the fallback",
    yaml: [dr("mesh", "strait-system", T1, "  host: \"*.svc.cluster.local\"\n  trafficPolicy: {loadBalancer: {simple: RANDOM}}\n")],
    client: { namespace: "web" },
    expected: { sources: ["strait-system/mesh"], lb: "RANDOM" },
  },
  {
    name: "a DR the service's namespace keeps to itself (exportTo .) is invisible to other namespaces",
    yaml: [dr("private", "shop", T1, "  host: reviews\n  exportTo: [\".\"]\n  trafficPolicy: {loadBalancer: {simple: RANDOM}}\n")],
    client: { namespace: "web" },
    expected: undefined,
  },
  {
    name: "an exact host beats a wildcard in the same namespace",
    yaml: [
      dr("wild", "shop", T1, "  host: \"*.shop.svc.cluster.local\"\n  trafficPolicy: {loadBalancer: {simple: RANDOM}}\n"),
      dr("exact", "shop", T2, "  host: reviews\n  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}\n"),
    ],
    expected: { sources: ["shop/exact"], lb: "ROUND_ROBIN" },
  },
  {
    name: "DRs with different exportTo are not merged; the oldest is used",
    yaml: [
      dr("older", "shop", T1, "  host: reviews\n  subsets: [{name: v1, labels: {version: v1}}]\n"),
      dr("newer", "shop", T2, "  host: reviews\n  exportTo: [\".\"]\n  subsets: [{name: v2, labels: {version: v2}}]\n"),
    ],
    expected: { sources: ["shop/older"], subsets: ["v1:v1"] },
  },
  {
    name: "a workloadSelector DR that selects the client beats the selector-less one",
    yaml: [
      dr("all", "shop", T1, "  host: reviews\n  trafficPolicy: {loadBalancer: {simple: RANDOM}}\n"),
      dr("canary", "shop", T2, "  host: reviews\n  workloadSelector: {matchLabels: {track: canary}}\n  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}\n"),
      dr("canary-more", "shop", T3, "  host: reviews\n  workloadSelector: {matchLabels: {track: canary}}\n  subsets: [{name: v9, labels: {version: v9}}]\n"),
    ],
    client: { namespace: "shop", labels: { track: "canary" } },
    expected: { sources: ["shop/canary", "shop/canary-more"], lb: "ROUND_ROBIN", subsets: ["v9:v9"] },
  },
  {
    name: "a workloadSelector DR that does not select the client is skipped",
    yaml: [
      dr("all", "shop", T1, "  host: reviews\n  trafficPolicy: {loadBalancer: {simple: RANDOM}}\n"),
      dr("canary", "shop", T2, "  host: reviews\n  workloadSelector: {matchLabels: {track: canary}}\n  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}\n"),
    ],
    client: { namespace: "shop", labels: { track: "stable" } },
    expected: { sources: ["shop/all"], lb: "RANDOM" },
  },
];

for (const c of cases) {
  test(`DR lookup: ${c.name}`, () => {
    const ctx = prepareContext({ resources: resources(c.yaml.join("---\n")), trustDomain: "strait.local" });
    const got = resolveDestinationRule(ctx.destinationRules, {
      host: "reviews.shop.svc.cluster.local",
      clientNamespace: c.client?.namespace ?? "shop",
      ...(c.client?.labels === undefined ? {} : { clientLabels: c.client.labels }),
      serviceNamespace: "shop",
      rootNamespace: ctx.rootNamespace,
    });
    if (c.expected === undefined) {
      assert.equal(got, undefined);
      return;
    }
    assert.ok(got !== undefined, "a DR applies");
    assert.deepEqual(got.sources.map((s) => `${s.namespace}/${s.name}`), c.expected.sources);
    assert.equal(got.spec.trafficPolicy?.loadBalancer?.simple, c.expected.lb);
    assert.deepEqual(got.spec.subsets?.map((s) => `${s.name}:${s.labels?.version}`), c.expected.subsets);
  });
}
