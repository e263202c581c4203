import { test } from "node:test";
import assert from "node:assert/strict";
import { analyze, type Finding } from "../../../src/core/config/analyze.ts";
import { validateResource } from "../../../src/core/config/validate.ts";
import type { AnyResource } from "../../../src/core/config/resource.ts";

type Doc = Record<string, unknown>;
const NET = "networking.istio.io/v1";

const se = (name: string, hosts: string[], resolution = "DNS", namespace = "default"): Doc => ({
  apiVersion: NET,
  kind: "ServiceEntry",
  metadata: { name, namespace },
  spec: { hosts, location: "MESH_EXTERNAL", ports: [{ number: 443, name: "tls", protocol: "TLS" }, { number: 80, name: "http", protocol: "HTTP" }], resolution },
});
const vs = (name: string, spec: Doc, namespace = "default"): Doc => ({ apiVersion: NET, kind: "VirtualService", metadata: { name, namespace }, spec });
const gw = (name: string, hosts: string[], namespace = "default"): Doc => ({
  apiVersion: NET,
  kind: "Gateway",
  metadata: { name, namespace },
  spec: { selector: { istio: "ingressgateway" }, servers: [{ port: { number: 80, name: "http", protocol: "HTTP" }, hosts }] },
});

function run(docs: Doc[]): Finding[] {
  const resources: AnyResource[] = docs.map((d) => {
    const r = validateResource(d);
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
    return r.resource;
  });
  return analyze(resources);
}
const brief = (fs: Finding[], code?: string) => fs.filter((f) => code === undefined || f.code === code).map((f) => `${f.code} ${f.resource.name} ${f.field ?? "-"}`);

const registry = [se("api", ["api.example.com"]), se("db", ["db.example.com"])];
const to = () => [{ destination: { host: "api.example.com" } }];

/** IST0131/IST0130: a match covered by an earlier, broader one (not only an identical one). */
const coverage: { name: string; spec: Doc; expected: string[] }[] = [
  {
    name: "a shorter URI prefix covers a longer one (IST0131 and, all matches covered, IST0130)",
    spec: { hosts: ["api.example.com"], http: [{ match: [{ uri: { prefix: "/api" } }], route: to() }, { match: [{ uri: { prefix: "/api/v2" } }], route: to() }] },
    expected: ["IST0130 r spec.http[1]", "IST0131 r spec.http[1].match[0]"],
  },
  {
    name: "a prefix covers an exact URI under it",
    spec: { hosts: ["api.example.com"], http: [{ match: [{ uri: { prefix: "/static" } }], route: to() }, { match: [{ uri: { exact: "/static/app.js" } }, { uri: { exact: "/login" } }], route: to() }] },
    expected: ["IST0131 r spec.http[1].match[0]"],
  },
  {
    name: "a match without a method covers the same match with a method",
    spec: { hosts: ["api.example.com"], http: [{ match: [{ uri: { prefix: "/orders" } }], route: to() }, { match: [{ uri: { prefix: "/orders" }, method: { exact: "POST" } }], route: to() }] },
    expected: ["IST0130 r spec.http[1]", "IST0131 r spec.http[1].match[0]"],
  },
  {
    name: "a match without a header condition covers one with a header",
    spec: { hosts: ["api.example.com"], http: [{ match: [{ uri: { prefix: "/" } }], route: to() }, { match: [{ uri: { prefix: "/beta" }, headers: { "x-beta": { exact: "1" } } }], route: to() }] },
    expected: ["IST0130 r spec.http[1]", "IST0131 r spec.http[1].match[0]"],
  },
  {
    name: "a regex covers an exact value it matches",
    spec: { hosts: ["api.example.com"], http: [{ match: [{ uri: { regex: "/v[0-9]+/items" } }], route: to() }, { match: [{ uri: { exact: "/v2/items" } }], route: to() }] },
    expected: ["IST0130 r spec.http[1]", "IST0131 r spec.http[1].match[0]"],
  },
  {
    name: "a later broader match does not make an earlier narrower one unreachable",
    spec: { hosts: ["api.example.com"], http: [{ match: [{ uri: { prefix: "/api/v2" } }], route: to() }, { match: [{ uri: { prefix: "/api" } }], route: to() }] },
    expected: [],
  },
  {
    name: "a method-restricted match does not cover one without a method",
    spec: { hosts: ["api.example.com"], http: [{ match: [{ uri: { prefix: "/orders" }, method: { exact: "GET" } }], route: to() }, { match: [{ uri: { prefix: "/orders" } }], route: to() }] },
    expected: [],
  },
  {
    name: "a case-sensitive prefix does not cover an ignoreUriCase match",
    spec: { hosts: ["api.example.com"], http: [{ match: [{ uri: { prefix: "/a" } }], route: to() }, { match: [{ uri: { prefix: "/a/b" }, ignoreUriCase: true }], route: to() }] },
    expected: [],
  },
  {
    name: "a match on gateway A does not cover one on gateway B",
    spec: { hosts: ["api.example.com"], gateways: ["mesh", "default/edge"], http: [{ match: [{ uri: { prefix: "/" }, gateways: ["mesh"] }], route: to() }, { match: [{ uri: { prefix: "/x" }, gateways: ["default/edge"] }], route: to() }] },
    expected: [],
  },
  {
    name: "tls routes: a wildcard SNI covers a name under it",
    spec: {
      hosts: ["*.example.com"],
      gateways: ["default/edge"],
      tls: [
        { match: [{ sniHosts: ["*.example.com"], port: 443 }], route: [{ destination: { host: "api.example.com" } }] },
        { match: [{ sniHosts: ["api.example.com"], port: 443 }], route: [{ destination: { host: "db.example.com" } }] },
      ],
    },
    expected: ["IST0130 r spec.tls[1]", "IST0131 r spec.tls[1].match[0]"],
  },
  {
    name: "tls routes: a rule after one matching every SNI port-less is unused",
    spec: {
      hosts: ["api.example.com"],
      gateways: ["default/edge"],
      tls: [
        { match: [{ sniHosts: ["api.example.com"] }], route: [{ destination: { host: "api.example.com" } }] },
        { match: [{ sniHosts: ["api.example.com"], port: 8443 }], route: [{ destination: { host: "db.example.com" } }] },
      ],
    },
    expected: ["IST0130 r spec.tls[1]", "IST0131 r spec.tls[1].match[0]"],
  },
  {
    name: "tcp routes: a port-less match covers a match on one port",
    spec: { hosts: ["db.example.com"], tcp: [{ match: [{ sourceLabels: { app: "web" } }], route: [{ destination: { host: "db.example.com" } }] }, { match: [{ sourceLabels: { app: "web" }, port: 5432 }], route: [{ destination: { host: "db.example.com" } }] }] },
    expected: ["IST0130 r spec.tcp[1]", "IST0131 r spec.tcp[1].match[0]"],
  },
];

for (const c of coverage) {
  test(`IST0130/IST0131: ${c.name}`, () => {
    const findings = run([...registry, gw("edge", ["*.example.com"]), vs("r", c.spec)]);
    assert.deepEqual(brief(findings).filter((b) => b.startsWith("IST013")), c.expected, JSON.stringify(findings));
    for (const f of findings.filter((x) => x.code === "IST0131")) assert.match(f.message, /is not used \(duplicate\/overlapping match in /);
  });
}

test("IST0109: overlapping wildcard hosts conflict, reported once per VirtualService", () => {
  const findings = run([
    ...registry,
    se("wild", ["*.example.com"], "NONE"),
    vs("wild", { hosts: ["*.example.com"], http: [{ route: to() }] }),
    vs("api", { hosts: ["api.example.com"], http: [{ route: to() }] }),
    vs("api-again", { hosts: ["api.example.com", "db.example.com"], http: [{ route: to() }] }),
    vs("db", { hosts: ["db.example.com"], http: [{ route: to() }] }),
    vs("unrelated", { hosts: ["other.test"], http: [{ route: to() }] }),
  ]);
  assert.deepEqual(brief(findings, "IST0109"), [
    "IST0109 api spec.hosts[0]",
    "IST0109 api-again spec.hosts[0]",
    "IST0109 db spec.hosts[0]",
    "IST0109 wild spec.hosts[0]",
  ]);
  const wild = findings.find((f) => f.code === "IST0109" && f.resource.name === "wild")!;
  assert.match(wild.message, /default\/api,default\/api-again,default\/db,default\/wild/);
});

test("IST0109: a gateway-only VirtualService does not conflict with a mesh one", () => {
  const findings = run([...registry, gw("edge", ["*.example.com"]), vs("a", { hosts: ["*.example.com"], gateways: ["default/edge"], http: [{ route: to() }] }), vs("b", { hosts: ["api.example.com"], http: [{ route: to() }] })]);
  assert.deepEqual(brief(findings, "IST0109"), []);
});

test("IST0132: silent when the gateway serves at least one of the VirtualService hosts", () => {
  const docs = [...registry, gw("edge", ["api.example.com"]), vs("two-hosts", { hosts: ["api.example.com", "db.example.com"], gateways: ["default/edge", "mesh"], http: [{ route: to() }] })];
  assert.deepEqual(brief(run(docs), "IST0132"), []);
  const none = [...registry, gw("edge", ["other.test"]), vs("two-hosts", { hosts: ["api.example.com", "db.example.com"], gateways: ["default/edge"], http: [{ route: to() }] })];
  assert.deepEqual(brief(run(none), "IST0132"), ["IST0132 two-hosts spec.gateways[0]"]);
});

const sidecar = (name: string, spec: Doc, namespace = "default"): Doc => ({ apiVersion: NET, kind: "Sidecar", metadata: { name, namespace }, spec });
const we = (name: string, labels: Record<string, string>, namespace = "default"): Doc => ({ apiVersion: NET, kind: "WorkloadEntry", metadata: { name, namespace }, spec: { address: "10.0.0.9", labels } });

test("Sidecar analysis: selector matching nothing (IST0127), two namespace-wide Sidecars (IST0123), two selecting one workload (IST0116)", () => {
  const findings = run([
    we("web-1", { app: "web" }),
    sidecar("default", { egress: [{ hosts: ["./*"] }] }),
    sidecar("default-2", { egress: [{ hosts: ["istio-system/*"] }] }),
    sidecar("web", { workloadSelector: { labels: { app: "web" } }, egress: [{ hosts: ["./*"] }] }),
    sidecar("web-too", { workloadSelector: { labels: { app: "web" } }, outboundTrafficPolicy: { mode: "REGISTRY_ONLY" } }),
    sidecar("ghost", { workloadSelector: { labels: { app: "ghost" } }, egress: [{ hosts: ["./*"] }] }),
    sidecar("default", { egress: [{ hosts: ["./*"] }] }, "other"),
  ]);
  assert.deepEqual(brief(findings), [
    "IST0123 default -",
    "IST0123 default-2 -",
    "IST0127 ghost spec.workloadSelector.labels",
    "IST0116 web spec.workloadSelector",
    "IST0116 web-too spec.workloadSelector",
  ]);
});
