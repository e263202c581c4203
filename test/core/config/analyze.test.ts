import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { analyze, FINDING_CODES, type Finding } from "../../../src/core/config/analyze.ts";
import { parseDocuments } from "../../../src/core/config/parse-documents.ts";
import { validateResource } from "../../../src/core/config/validate.ts";
import type { AnyResource } from "../../../src/core/config/resource.ts";

const FIXTURES = join(import.meta.dirname, "../../fixtures/istio");

type Doc = Record<string, any>;

function fixtureDocs(file: string): Doc[] {
  return parseDocuments(readFileSync(join(FIXTURES, file), "utf8"), file) as Doc[];
}

/** Bookinfo's services as a Strait registry: one ServiceEntry per service, one WorkloadEntry per version. */
function bookinfoRegistry(): Doc[] {
  const services: Record<string, string[]> = {
    productpage: ["v1"],
    reviews: ["v1", "v2", "v3"],
    ratings: ["v1", "v2", "v2-mysql", "v2-mysql-vm"],
    details: ["v1", "v2"],
  };
  const docs: Doc[] = [];
  let ip = 10;
  for (const [app, versions] of Object.entries(services)) {
    docs.push({
      apiVersion: "networking.istio.io/v1",
      kind: "ServiceEntry",
      metadata: { name: app, namespace: "default" },
      spec: {
        hosts: [`${app}.default.svc.cluster.local`],
        location: "MESH_INTERNAL",
        ports: [{ number: 9080, name: "http", protocol: "HTTP" }],
        resolution: "STATIC",
        workloadSelector: { labels: { app } },
      },
    });
    for (const version of versions) {
      docs.push({
        apiVersion: "networking.istio.io/v1",
        kind: "WorkloadEntry",
        metadata: { name: `${app}-${version}`, namespace: "default", labels: { "strait.io/cluster": "c1", "strait.io/node": "n1" } },
        spec: { address: `10.0.0.${ip++}`, labels: { app, version }, serviceAccount: `bookinfo-${app}` },
      });
    }
  }
  return docs;
}

/** The bookinfo mesh from Istio's docs on top of the registry; analyze() finds nothing wrong with it. */
function baseline(): Doc[] {
  return [
    ...bookinfoRegistry(),
    ...fixtureDocs("bookinfo-gateway.yaml"),
    ...fixtureDocs("virtual-service-all-v1.yaml"),
    ...fixtureDocs("destination-rule-all.yaml"),
    ...fixtureDocs("authz-http.yaml").filter((d) => d.metadata.name !== "bookinfo-gateway-viewer"),
  ];
}

function validated(docs: Doc[]): AnyResource[] {
  return docs.map((d, i) => {
    const r = validateResource(d);
    assert.ok(r.ok, `document ${i} (${d.kind}/${d.metadata?.name}) must be valid: ${JSON.stringify(!r.ok && r.errors)}`);
    return r.resource;
  });
}

function run(docs: Doc[], options?: Parameters<typeof analyze>[1]): Finding[] {
  return analyze(validated(docs), options);
}

function brief(findings: Finding[]): string[] {
  return findings.map((f) => `${f.code} ${f.resource.kind}/${f.resource.namespace}/${f.resource.name} ${f.field ?? "-"}`);
}

function named(docs: Doc[], kind: string, name: string): Doc {
  const d = docs.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(d !== undefined, `${kind}/${name} present`);
  return d;
}

const vs = (name: string, spec: Doc, namespace = "default"): Doc => ({ apiVersion: "networking.istio.io/v1", kind: "VirtualService", metadata: { name, namespace }, spec });
const ap = (name: string, spec: Doc, namespace = "default"): Doc => ({ apiVersion: "security.istio.io/v1", kind: "AuthorizationPolicy", metadata: { name, namespace }, spec });
const pa = (name: string, spec: Doc, namespace: string): Doc => ({ apiVersion: "security.istio.io/v1", kind: "PeerAuthentication", metadata: { name, namespace }, spec });

test("the documented bookinfo mesh on a matching registry has no findings", () => {
  assert.deepEqual(brief(run(baseline())), []);
});

test("without a registry, every destination host is reported missing (IST0101)", () => {
  const docs = [...fixtureDocs("virtual-service-all-v1.yaml"), ...fixtureDocs("destination-rule-all.yaml")];
  const findings = run(docs);
  assert.deepEqual(brief(findings), [
    "IST0101 VirtualService/default/details spec.http[0].route[0].destination.host",
    "IST0101 VirtualService/default/productpage spec.http[0].route[0].destination.host",
    "IST0101 VirtualService/default/ratings spec.http[0].route[0].destination.host",
    "IST0101 VirtualService/default/reviews spec.http[0].route[0].destination.host",
  ]);
  assert.equal(findings[0]!.level, "Error");
  assert.match(findings[0]!.message, /Referenced host not found: "details\.default\.svc\.cluster\.local"/);
});

interface Case {
  name: string;
  change: (docs: Doc[]) => Doc[];
  expected: string[];
  message?: RegExp;
  options?: Parameters<typeof analyze>[1];
}

const cases: Case[] = [
  {
    name: "IST0101 subset no DestinationRule defines",
    change: (docs) => {
      named(docs, "VirtualService", "reviews").spec.http[0].route[0].destination.subset = "v4";
      return docs;
    },
    expected: ["IST0101 VirtualService/default/reviews spec.http[0].route[0].destination.subset"],
    message: /host\+subset in destinationrule not found: "reviews\.default\.svc\.cluster\.local\+v4"/,
  },
  {
    name: "IST0101 host whose ServiceEntry is not exported to the VirtualService namespace",
    change: (docs) => {
      named(docs, "ServiceEntry", "details").spec.exportTo = ["."];
      return [...docs, vs("details-from-shop", { hosts: ["details-alias"], http: [{ route: [{ destination: { host: "details.default.svc.cluster.local" } }] }] }, "shop")];
    },
    expected: ["IST0101 VirtualService/shop/details-from-shop spec.http[0].route[0].destination.host"],
    message: /ServiceEntry default\/details provides it but is not exported to namespace shop/,
  },
  {
    name: "IST0101 subset defined only by a DestinationRule hidden from the VirtualService",
    change: (docs) => {
      named(docs, "DestinationRule", "details").spec.exportTo = ["."];
      return [...docs, vs("details-from-shop", { hosts: ["details-alias"], http: [{ route: [{ destination: { host: "details.default.svc.cluster.local", subset: "v2" } }] }] }, "shop")];
    },
    expected: ["IST0101 VirtualService/shop/details-from-shop spec.http[0].route[0].destination.subset"],
  },
  {
    name: "IST0101 gateway that does not exist",
    change: (docs) => {
      named(docs, "VirtualService", "bookinfo").spec.gateways = ["istio-system/bookinfo-gateway"];
      return docs;
    },
    expected: ["IST0101 VirtualService/default/bookinfo spec.gateways[0]"],
    message: /gateway not found: "istio-system\/bookinfo-gateway"/,
  },
  {
    name: "IST0101 mirror host outside the registry",
    change: (docs) => {
      named(docs, "VirtualService", "reviews").spec.http[0].mirror = { host: "reviews-shadow" };
      return docs;
    },
    expected: ["IST0101 VirtualService/default/reviews spec.http[0].mirror.host"],
  },
  {
    name: "IST0101 delegate VirtualService that does not exist",
    change: (docs) => [...docs, vs("root", { hosts: ["shop.example.com"], gateways: ["bookinfo-gateway"], http: [{ delegate: { name: "shop-routes" } }] })],
    expected: ["IST0101 VirtualService/default/root spec.http[0].delegate"],
  },
  {
    name: "delegation: root on a gateway, delegate without hosts, no findings",
    change: (docs) => {
      named(docs, "VirtualService", "bookinfo").spec.http = [{ match: [{ uri: { prefix: "/api" } }], delegate: { name: "bookinfo-api" } }];
      return [...docs, vs("bookinfo-api", { http: [{ match: [{ uri: { prefix: "/api/v1/products" } }], route: [{ destination: { host: "productpage", port: { number: 9080 } } }] }] })];
    },
    expected: [],
  },
  {
    name: "STR0005 delegate that has hosts",
    change: (docs) => {
      named(docs, "VirtualService", "bookinfo").spec.http = [{ delegate: { name: "reviews" } }];
      return docs;
    },
    expected: ["STR0005 VirtualService/default/bookinfo spec.http[0].delegate"],
    message: /delegate VirtualService default\/reviews has hosts/,
  },
  {
    // Two levels of delegation are refused by validation (Istio: "delegate HTTP route cannot contain delegate").
    name: "STR0006 unused delegate",
    change: (docs) => {
      named(docs, "VirtualService", "bookinfo").spec.http = [{ delegate: { name: "level-1" } }];
      return [
        ...docs,
        vs("level-1", { http: [{ route: [{ destination: { host: "productpage" } }] }] }),
        vs("orphan", { http: [{ route: [{ destination: { host: "productpage" } }] }] }),
      ];
    },
    expected: ["STR0006 VirtualService/default/orphan spec.hosts"],
    message: /no VirtualService delegates to it/,
  },
  {
    name: "IST0109 two mesh VirtualServices for one host",
    change: (docs) => [...docs, vs("reviews-canary", { hosts: ["reviews.default.svc.cluster.local"], http: [{ route: [{ destination: { host: "reviews", subset: "v2" } }] }] })],
    expected: ["IST0109 VirtualService/default/reviews spec.hosts[0]", "IST0109 VirtualService/default/reviews-canary spec.hosts[0]"],
    message: /define the same host reviews\.default\.svc\.cluster\.local/,
  },
  {
    name: "IST0109 not reported when exportTo keeps the VirtualServices apart",
    change: (docs) => {
      named(docs, "VirtualService", "reviews").spec.exportTo = ["."];
      return [...docs, vs("reviews-shop", { hosts: ["reviews.default.svc.cluster.local"], exportTo: ["."], http: [{ route: [{ destination: { host: "reviews.default.svc.cluster.local", subset: "v3" } }] }] }, "shop")];
    },
    expected: [],
  },
  {
    name: "IST0130 route after a catch-all",
    change: (docs) => {
      const r = named(docs, "VirtualService", "reviews");
      r.spec.http.push({ match: [{ headers: { "end-user": { exact: "jason" } } }], route: [{ destination: { host: "reviews", subset: "v2" } }] });
      return docs;
    },
    expected: ["IST0130 VirtualService/default/reviews spec.http[1]"],
    message: /rule #1 not used/,
  },
  {
    name: "IST0131 match duplicated from an earlier rule",
    change: (docs) => {
      const r = named(docs, "VirtualService", "reviews");
      r.spec.http = [
        { match: [{ headers: { "end-user": { exact: "jason" } } }], route: [{ destination: { host: "reviews", subset: "v2" } }] },
        { match: [{ uri: { prefix: "/v3" } }, { headers: { "end-user": { exact: "jason" } } }], route: [{ destination: { host: "reviews", subset: "v3" } }] },
        { route: [{ destination: { host: "reviews", subset: "v1" } }] },
      ];
      return docs;
    },
    expected: ["IST0131 VirtualService/default/reviews spec.http[1].match[1]"],
    message: /duplicate\/overlapping match in rule #0 match #0/,
  },
  {
    name: "IST0130 rule whose matches all repeat earlier ones",
    change: (docs) => {
      const r = named(docs, "VirtualService", "reviews");
      r.spec.http = [
        { match: [{ headers: { "end-user": { exact: "jason" } } }], route: [{ destination: { host: "reviews", subset: "v2" } }] },
        { match: [{ name: "again", headers: { "end-user": { exact: "jason" } } }], route: [{ destination: { host: "reviews", subset: "v3" } }] },
        { route: [{ destination: { host: "reviews", subset: "v1" } }] },
      ];
      return docs;
    },
    expected: ["IST0130 VirtualService/default/reviews spec.http[1]", "IST0131 VirtualService/default/reviews spec.http[1].match[0]"],
    message: /all matches used by prior rules/,
  },
  {
    name: "IST0132 VirtualService host the gateway does not serve",
    change: (docs) => {
      named(docs, "Gateway", "bookinfo-gateway").spec.servers[0].hosts = ["*.bookinfo.example.com"];
      named(docs, "VirtualService", "bookinfo").spec.hosts = ["bookinfo.example.com"];
      return docs;
    },
    expected: ["IST0132 VirtualService/default/bookinfo spec.gateways[0]"],
    message: /host \[bookinfo\.example\.com\] defined in VirtualService default\/bookinfo not found in Gateway default\/bookinfo-gateway/,
  },
  {
    name: "IST0132 gateway host restricted to another namespace",
    change: (docs) => {
      named(docs, "Gateway", "bookinfo-gateway").spec.servers[0].hosts = ["shop/*"];
      return docs;
    },
    expected: ["IST0132 VirtualService/default/bookinfo spec.gateways[0]"],
  },
  {
    name: "IST0145 two gateways on one workload, port and host",
    change: (docs) => [...docs, ...fixtureDocs("authn-policy.yaml").filter((d) => d.kind === "Gateway")],
    expected: ["IST0145 Gateway/default/bookinfo-gateway spec.servers[0]", "IST0145 Gateway/foo/httpbin-gateway spec.servers[0]"],
  },
  {
    name: "IST0127 AuthorizationPolicy selecting no workload",
    change: (docs) => {
      named(docs, "AuthorizationPolicy", "ratings-viewer").spec.selector.matchLabels = { app: "ratingz" };
      return docs;
    },
    expected: ["IST0127 AuthorizationPolicy/default/ratings-viewer spec.selector.matchLabels"],
    message: /No matching workloads for this resource with the following labels: app=ratingz/,
  },
  {
    name: "IST0127 DestinationRule workloadSelector selecting no workload",
    change: (docs) => {
      named(docs, "DestinationRule", "details").spec.workloadSelector = { matchLabels: { app: "detail" } };
      return docs;
    },
    expected: ["IST0127 DestinationRule/default/details spec.workloadSelector.matchLabels"],
  },
  {
    name: "IST0127 does not fire for a policy on the gateway workload (Gateway selector)",
    change: (docs) => [...docs, ...fixtureDocs("authz-http.yaml").filter((d) => d.metadata.name === "bookinfo-gateway-viewer").map((d) => ({ ...d, spec: { ...d.spec, selector: { matchLabels: { istio: "ingressgateway" } } } }))],
    expected: [],
  },
  {
    name: "IST0127 root-namespace policy matches workloads in any namespace",
    change: (docs) => [...docs, ap("deny-old", { selector: { matchLabels: { version: "v2-mysql-vm" } }, action: "DENY", rules: [{ to: [{ operation: { methods: ["DELETE"] } }] }] }, "strait-system")],
    expected: [],
  },
  {
    name: "IST0173 subset selecting no endpoint",
    change: (docs) => {
      named(docs, "DestinationRule", "reviews").spec.subsets.push({ name: "v9", labels: { version: "v9" } });
      return docs;
    },
    expected: ["IST0173 DestinationRule/default/reviews spec.subsets[3]"],
    message: /Subset v9 .* does not select any endpoint of reviews\.default\.svc\.cluster\.local/,
  },
  {
    name: "STR0001 a field and its not-twin share a value",
    change: (docs) => [...docs, ap("never", { selector: { matchLabels: { app: "reviews" } }, rules: [{ to: [{ operation: { methods: ["GET"], notMethods: ["GET", "POST"] } }] }] })],
    expected: ["STR0001 AuthorizationPolicy/default/never spec.rules[0].to[0].operation.notMethods"],
    message: /methods and notMethods both contain \["GET"\]/,
  },
  {
    name: "STR0001 when values and notValues share a value",
    change: (docs) => [...docs, ap("never", { selector: { matchLabels: { app: "reviews" } }, action: "DENY", rules: [{ when: [{ key: "request.headers[x-token]", values: ["a"], notValues: ["a"] }] }] })],
    expected: ["STR0001 AuthorizationPolicy/default/never spec.rules[0].when[0]"],
  },
  {
    name: "STR0002 principals where mTLS is disabled",
    change: (docs) => [...docs, pa("default", { mtls: { mode: "DISABLE" } }, "default")],
    expected: [
      "STR0002 AuthorizationPolicy/default/details-viewer spec.rules[0]",
      "STR0002 AuthorizationPolicy/default/ratings-viewer spec.rules[0]",
      "STR0002 AuthorizationPolicy/default/reviews-viewer spec.rules[0]",
    ],
    message: /uses source\.principals but mTLS is DISABLE in namespace default/,
  },
  {
    name: "STR0002 mesh-wide DISABLE is inherited, namespace STRICT overrides it",
    change: (docs) => [...docs, pa("default", { mtls: { mode: "DISABLE" } }, "strait-system"), pa("default", { mtls: { mode: "STRICT" } }, "default")],
    expected: [],
  },
  {
    name: "STR0003 requestPrincipals without a RequestAuthentication",
    change: (docs) => [...docs, ap("require-jwt", { selector: { matchLabels: { app: "productpage" } }, rules: [{ from: [{ source: { requestPrincipals: ["*"] } }] }] })],
    expected: ["STR0003 AuthorizationPolicy/default/require-jwt spec.rules[0]"],
    message: /no RequestAuthentication applies/,
  },
  {
    name: "STR0003 silent once a RequestAuthentication covers the workload",
    change: (docs) => [
      ...docs,
      ap("require-jwt", { selector: { matchLabels: { app: "productpage" } }, rules: [{ from: [{ source: { requestPrincipals: ["*"] } }] }] }),
      { apiVersion: "security.istio.io/v1", kind: "RequestAuthentication", metadata: { name: "jwt", namespace: "default" }, spec: { selector: { matchLabels: { app: "productpage" } }, jwtRules: [{ issuer: "testing@secure.istio.io", jwksUri: "https://example.com/jwks.json" }] } },
    ],
    expected: [],
  },
  {
    name: "STR0004 PeerAuthentication with a selector in the root namespace",
    change: (docs) => [...docs, pa("reviews-strict", { selector: { matchLabels: { app: "reviews" } }, mtls: { mode: "STRICT" } }, "strait-system")],
    expected: ["STR0004 PeerAuthentication/strait-system/reviews-strict spec.selector"],
  },
  {
    name: "rootNamespace option moves mesh-wide scope",
    change: (docs) => [...docs, pa("reviews-strict", { selector: { matchLabels: { app: "reviews" } }, mtls: { mode: "STRICT" } }, "mesh-root")],
    options: { rootNamespace: "mesh-root" },
    expected: ["STR0004 PeerAuthentication/mesh-root/reviews-strict spec.selector"],
  },
  {
    name: "domainSuffix option changes how short hosts resolve",
    change: (docs) => docs,
    options: { domainSuffix: "mesh.internal" },
    expected: [
      "IST0101 VirtualService/default/bookinfo spec.http[0].route[0].destination.host",
      "IST0101 VirtualService/default/details spec.http[0].route[0].destination.host",
      "IST0101 VirtualService/default/productpage spec.http[0].route[0].destination.host",
      "IST0101 VirtualService/default/ratings spec.http[0].route[0].destination.host",
      "IST0101 VirtualService/default/reviews spec.http[0].route[0].destination.host",
    ],
    message: /"productpage\.default\.mesh\.internal"/,
  },
];

for (const c of cases) {
  test(`analyze: ${c.name}`, () => {
    const findings = run(c.change(baseline()), c.options);
    assert.deepEqual(brief(findings), c.expected);
    for (const f of findings) {
      assert.equal(f.level, FINDING_CODES[f.code as keyof typeof FINDING_CODES].level, `level of ${f.code}`);
      assert.ok(f.message.length > 0);
    }
    if (c.message !== undefined) assert.match(findings[0]!.message, c.message);
  });
}

test("analyze is deterministic and does not depend on input order", () => {
  const docs = [...baseline(), vs("reviews-canary", { hosts: ["reviews"], http: [{ route: [{ destination: { host: "reviews", subset: "v9" } }] }] })];
  const a = run(docs);
  const b = run([...docs].reverse());
  assert.ok(a.length > 0);
  assert.deepEqual(a, b);
});
