import { test } from "node:test";
import assert from "node:assert/strict";
import { validateResource } from "../../../src/core/config/validate.ts";

type Doc = Record<string, any>;
const NET = "networking.istio.io/v1beta1";
const SEC = "security.istio.io/v1beta1";

function doc(apiVersion: string, kind: string, spec: unknown, metadata: Doc = { name: "x", namespace: "shop" }): Doc {
  return { apiVersion, kind, metadata, spec };
}

/** Valid Istio config beyond the documented samples: each must pass unchanged, with exactly these warnings. */
const accepted: { name: string; doc: Doc; warnings?: string[] }[] = [
  { name: "delegate root and delegate VS", doc: doc(NET, "VirtualService", { hosts: ["shop.example.com"], gateways: ["shop/gw"], http: [{ match: [{ uri: { prefix: "/cart" } }], delegate: { name: "cart", namespace: "cart" } }] }) },
  { name: "delegate VS without hosts", doc: doc(NET, "VirtualService", { http: [{ match: [{ uri: { prefix: "/cart/v2" } }], route: [{ destination: { host: "cart-v2" } }] }] }) },
  { name: "tcp and tls routes", doc: doc(NET, "VirtualService", { hosts: ["db.example.com"], tcp: [{ match: [{ port: 5432, destinationSubnets: ["10.0.0.0/8"], sourceSubnet: "192.168.0.0/16" }], route: [{ destination: { host: "db", port: { number: 5432 } } }] }], tls: [{ match: [{ sniHosts: ["db.example.com"], port: 443 }], route: [{ destination: { host: "db" } }] }] }) },
  { name: "the full HTTP route toolbox", doc: doc(NET, "VirtualService", { hosts: ["api"], http: [{ name: "main", match: [{ uri: { regex: "/v[0-9]+/.*" }, method: { exact: "GET" }, queryParams: { debug: {} }, withoutHeaders: { "x-skip": {} }, headers: { ":authority": { prefix: "api" } }, ignoreUriCase: true, sourceLabels: { app: "web" }, port: 8080 }], route: [{ destination: { host: "api", subset: "v2", port: { number: 8080 } }, weight: 90, headers: { request: { set: { "x-version": "v2" } } } }, { destination: { host: "api", subset: "v1" }, weight: 10 }], rewrite: { uriRegexRewrite: { match: "^/v[0-9]+/(.*)", rewrite: "/\\1" } }, timeout: "2.5s", retries: { attempts: 3, perTryTimeout: "500ms", retryOn: "5xx,connect-failure,429,retriable-status-codes" }, fault: { delay: { fixedDelay: "100ms", percentage: { value: 0.0001 } }, abort: { grpcStatus: "UNAVAILABLE", percentage: { value: 0 } } }, mirrors: [{ destination: { host: "api-shadow" }, percentage: { value: 12.5 } }], corsPolicy: { allowOrigins: [{ exact: "https://a.example.com" }, { regex: "https://.*\\.example\\.com" }], allowMethods: ["GET"], maxAge: "24h", allowCredentials: true, unmatchedPreflights: "IGNORE" }, headers: { response: { remove: ["server"] } } }] }) },
  { name: "redirect and direct response routes", doc: doc(NET, "VirtualService", { hosts: ["old.example.com"], gateways: ["mesh", "shop/gw"], http: [{ match: [{ uri: { exact: "/old" } }], redirect: { uri: "/new", redirectCode: 308, derivePort: "FROM_REQUEST_PORT" } }, { directResponse: { status: 503, body: { string: "maintenance" } } }] }) },
  { name: "DR with every policy part", doc: doc(NET, "DestinationRule", { host: "*.shop.svc.cluster.local", exportTo: ["."], trafficPolicy: { loadBalancer: { consistentHash: { httpCookie: { name: "user", ttl: "0s" }, maglev: { tableSize: 65537 } }, localityLbSetting: { enabled: true, distribute: [{ from: "us-west/*", to: { "us-west/*": 80, "us-east/*": 20 } }] } }, connectionPool: { tcp: { maxConnections: 100, connectTimeout: "30ms", tcpKeepalive: { time: "7200s", interval: "75s" } }, http: { http2MaxRequests: 1000, maxRequestsPerConnection: 10, h2UpgradePolicy: "UPGRADE" } }, outlierDetection: { consecutive5xxErrors: 7, interval: "5m", baseEjectionTime: "15m" }, tls: { mode: "ISTIO_MUTUAL" }, portLevelSettings: [{ port: { number: 80 }, loadBalancer: { simple: "LEAST_REQUEST" } }] }, subsets: [{ name: "v1", labels: { version: "v1" }, trafficPolicy: { loadBalancer: { simple: "ROUND_ROBIN" } } }] }) },
  { name: "DR with LEAST_CONN (deprecated alias)", doc: doc(NET, "DestinationRule", { host: "reviews", trafficPolicy: { loadBalancer: { simple: "LEAST_CONN" } } }), warnings: ["spec.trafficPolicy.loadBalancer.simple"] },
  { name: "HTTPS gateway with credentialName and httpsRedirect", doc: doc(NET, "Gateway", { selector: { istio: "ingressgateway" }, servers: [{ port: { number: 443, name: "https", protocol: "HTTPS" }, hosts: ["shop/*.example.com", "./www.example.com"], tls: { mode: "SIMPLE", credentialName: "shop-cert", minProtocolVersion: "TLSV1_2" } }, { port: { number: 80, name: "http", protocol: "HTTP" }, hosts: ["*"], tls: { httpsRedirect: true } }, { port: { number: 15443, name: "tls", protocol: "TLS" }, hosts: ["*.local"], tls: { mode: "AUTO_PASSTHROUGH" } }] }) },
  { name: "external ServiceEntry with DNS resolution", doc: doc(NET, "ServiceEntry", { hosts: ["api.example.com"], location: "MESH_EXTERNAL", ports: [{ number: 443, name: "https", protocol: "TLS" }], resolution: "DNS" }) },
  { name: "internal ServiceEntry with STATIC endpoints", doc: doc(NET, "ServiceEntry", { hosts: ["payments.shop.svc.cluster.local"], addresses: ["10.10.0.0/16"], location: "MESH_INTERNAL", ports: [{ number: 8080, name: "http", protocol: "HTTP", targetPort: 9090 }], resolution: "STATIC", endpoints: [{ address: "10.10.0.5", ports: { http: 9090 }, labels: { app: "payments" }, locality: "us-west/zone1", weight: 2 }] }) },
  { name: "WorkloadEntry reachable only through its network", doc: doc(NET, "WorkloadEntry", { network: "vpc-2", labels: { app: "payments" }, serviceAccount: "payments" }), warnings: ["spec.address"] },
  { name: "WorkloadEntry on a unix socket", doc: doc(NET, "WorkloadEntry", { address: "unix:///var/run/app.sock" }) },
  { name: "AuthorizationPolicy allow-all rules: [{}]", doc: doc(SEC, "AuthorizationPolicy", { rules: [{}] }) },
  { name: "CUSTOM AuthorizationPolicy with a provider", doc: doc(SEC, "AuthorizationPolicy", { action: "CUSTOM", provider: { name: "ext-authz" }, rules: [{ to: [{ operation: { paths: ["/admin/{**}", "/users/{*}/profile"] } }] }] }) },
  { name: "AuthorizationPolicy using every source field and when key family", doc: doc(SEC, "AuthorizationPolicy", { targetRefs: [{ kind: "Gateway", group: "gateway.networking.k8s.io", name: "gw" }], action: "AUDIT", rules: [{ from: [{ source: { serviceAccounts: ["shop/web"], notIpBlocks: ["10.0.0.1"], remoteIpBlocks: ["203.0.113.0/24"] } }], to: [{ operation: { ports: ["8080"], notMethods: ["DELETE"], hosts: ["*.example.com"] } }], when: [{ key: "request.auth.claims[groups][admin]", values: ["true"] }, { key: "source.ip", notValues: ["10.0.0.0/8"] }, { key: "destination.port", values: ["443"] }, { key: "experimental.envoy.filters.network.mysql_proxy[db.table]", values: ["[update]"] }] }] }) },
  { name: "PeerAuthentication with UNSET and port overrides", doc: doc(SEC, "PeerAuthentication", { selector: { matchLabels: { app: "db" } }, mtls: { mode: "UNSET" }, portLevelMtls: { "5432": { mode: "PERMISSIVE" } } }) },
  { name: "RequestAuthentication with inline JWKS and claim headers", doc: doc(SEC, "RequestAuthentication", { jwtRules: [{ issuer: "https://issuer.example.com", audiences: ["shop"], jwks: '{"keys":[]}', fromHeaders: [{ name: "x-jwt", prefix: "Bearer " }], fromParams: ["token"], outputClaimToHeaders: [{ header: "x-user", claim: "sub" }], forwardOriginalToken: true, timeout: "5s", presence: "OPTIONAL" }] }) },
  { name: "fault delay without a percentage (never fires: warning)", doc: doc(NET, "VirtualService", { hosts: ["r"], http: [{ fault: { delay: { fixedDelay: "1s" } }, route: [{ destination: { host: "r" } }] }] }), warnings: ["spec.http[0].fault.delay.percentage"] },
];

for (const c of accepted) {
  test(`accepted: ${c.name}`, () => {
    const r = validateResource(c.doc);
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
    assert.deepEqual(r.resource.spec, c.doc.spec);
    assert.equal(r.resource.apiVersion.endsWith("/v1"), true);
    assert.deepEqual(r.warnings.map((w) => w.path), c.warnings ?? []);
  });
}

test("namespace defaults to options.defaultNamespace, then \"default\"", () => {
  const d = { apiVersion: NET, kind: "WorkloadEntry", metadata: { name: "vm-1" }, spec: { address: "10.0.0.1" } };
  const a = validateResource(d);
  const b = validateResource(d, { defaultNamespace: "shop" });
  assert.ok(a.ok && b.ok);
  assert.equal(a.resource.metadata.namespace, "default");
  assert.equal(b.resource.metadata.namespace, "shop");
  const explicit = validateResource({ ...d, metadata: { name: "vm-1", namespace: "prod" } }, { defaultNamespace: "shop" });
  assert.ok(explicit.ok);
  assert.equal(explicit.resource.metadata.namespace, "prod");
});

test("null fields are dropped; status and server-managed metadata are ignored with warnings", () => {
  const r = validateResource({
    apiVersion: NET,
    kind: "VirtualService",
    metadata: { name: "r", labels: { app: "r" }, annotations: { "example.com/owner": "team-a" }, managedFields: [{}], resourceVersion: "7", generation: 2 },
    spec: { hosts: ["r"], gateways: null, http: [{ route: [{ destination: { host: "r" }, weight: null }] }] },
    status: { conditions: [] },
  });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  assert.deepEqual(r.resource.spec, { hosts: ["r"], http: [{ route: [{ destination: { host: "r" } }] }] });
  assert.deepEqual(r.resource.metadata, { name: "r", namespace: "default", labels: { app: "r" }, annotations: { "example.com/owner": "team-a" }, resourceVersion: "7", generation: 2 });
  assert.deepEqual(r.warnings.map((w) => w.path), ["status", "metadata.managedFields"]);
});

test("input is not mutated", () => {
  const d = { apiVersion: NET, kind: "VirtualService", metadata: { name: "r" }, spec: { hosts: ["r"], http: [{ route: [{ destination: { host: "r" } }] }] } };
  const copy = structuredClone(d);
  validateResource(d);
  assert.deepEqual(d, copy);
});

test("non-object documents are refused with a message naming what is expected", () => {
  for (const bad of [null, 3, "VirtualService", [1]]) {
    const r = validateResource(bad);
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.errors[0]!.message, /apiVersion, kind, metadata and spec/);
  }
  const noSpec = validateResource({ apiVersion: NET, kind: "VirtualService", metadata: { name: "r" }, spec: "x" });
  assert.equal(noSpec.ok, false);
  if (!noSpec.ok) assert.deepEqual(noSpec.errors, [{ path: "spec", message: 'must be an object (got string "x")' }]);
});
