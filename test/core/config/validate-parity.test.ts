import { test } from "node:test";
import assert from "node:assert/strict";
import { validateResource } from "../../../src/core/config/validate.ts";

/**
 * One case per class where Strait used to differ from Istio's webhook
 * (pkg/config/validation) and CRD schemas: accepted means Istio accepts it,
 * refused names the field Istio refuses.
 */
const NET = "networking.istio.io/v1";
const SEC = "security.istio.io/v1";
const doc = (apiVersion: string, kind: string, spec: unknown, name = "x") => ({ apiVersion, kind, metadata: { name, namespace: "shop" }, spec });
const route = [{ destination: { host: "api.example.com" } }];

const accepted: { name: string; doc: unknown; warnings?: string[] }[] = [
  { name: "ServiceEntry partial wildcard host (with Istio's warning)", doc: doc(NET, "ServiceEntry", { hosts: ["*x.example.com"], ports: [{ number: 80, name: "http", protocol: "HTTP" }] }), warnings: ["spec.hosts[0]"] },
  { name: "ServiceEntry port name in upper case", doc: doc(NET, "ServiceEntry", { hosts: ["a.example.com"], addresses: ["10.0.0.1"], ports: [{ number: 80, name: "HTTP-web", protocol: "http" }], resolution: "STATIC", endpoints: [{ address: "10.1.1.1", ports: { "HTTP-web": 8080 } }] }) },
  { name: "WorkloadEntry abstract unix socket", doc: doc(NET, "WorkloadEntry", { address: "unix://@envoy-admin" }) },
  { name: "WorkloadEntry serviceAccount and locality Istio leaves unchecked", doc: doc(NET, "WorkloadEntry", { address: "10.0.0.1", serviceAccount: "Svc_Account", locality: "us-east1//b" }) },
  { name: "RequestAuthentication claim names with dots and a fromHeaders name in any case", doc: doc(SEC, "RequestAuthentication", { jwtRules: [{ issuer: "https://issuer.example.com", jwksUri: "https://issuer.example.com/jwks", fromHeaders: [{ name: "X-Forwarded-Authorization", prefix: "Bearer " }], outputClaimToHeaders: [{ header: "x-tenant", claim: "realm_access.roles" }], outputPayloadToHeader: "x_jwt_payload" }] }) },
  { name: "RequestAuthentication issuer empty when jwksUri is set", doc: doc(SEC, "RequestAuthentication", { jwtRules: [{ issuer: "", jwksUri: "https://issuer.example.com/jwks" }] }) },
  { name: "AuthorizationPolicy serviceAccounts without a namespace", doc: doc(SEC, "AuthorizationPolicy", { rules: [{ from: [{ source: { serviceAccounts: ["web", "shop/api"] } }] }] }) },
  { name: "AuthorizationPolicy when source.serviceAccount without a namespace", doc: doc(SEC, "AuthorizationPolicy", { rules: [{ when: [{ key: "source.serviceAccount", values: ["web"] }] }] }) },
  { name: "AuthorizationPolicy trustDomains alone", doc: doc(SEC, "AuthorizationPolicy", { rules: [{ from: [{ source: { trustDomains: ["cluster.local"] } }] }] }) },
  { name: "AuthorizationPolicy port 0 (Istio's range is 0..65535)", doc: doc(SEC, "AuthorizationPolicy", { rules: [{ to: [{ operation: { ports: ["0"] } }] }] }) },
  { name: "DestinationRule http2KeepAlive", doc: doc(NET, "DestinationRule", { host: "api.example.com", trafficPolicy: { connectionPool: { http: { http2KeepAlive: { interval: "15s", timeout: "5s" } } } } }) },
  { name: "DestinationRule backendUtilization load balancing", doc: doc(NET, "DestinationRule", { host: "api.example.com", trafficPolicy: { loadBalancer: { backendUtilization: { blackoutPeriod: "10s", weightUpdatePeriod: "1s", errorUtilizationPenalty: 1.5 } } } }) },
  { name: "DestinationRule zoneAwareLbSetting", doc: doc(NET, "DestinationRule", { host: "api.example.com", trafficPolicy: { loadBalancer: { zoneAwareLbSetting: { enabled: true, failoverPriority: ["topology.istio.io/network"] } } } }) },
  { name: "DestinationRule tcp idleTimeout 0s (disabled)", doc: doc(NET, "DestinationRule", { host: "api.example.com", trafficPolicy: { connectionPool: { tcp: { idleTimeout: "0s" } } } }) },
  { name: "DestinationRule subset name in upper case", doc: doc(NET, "DestinationRule", { host: "api.example.com", subsets: [{ name: "V1", labels: { version: "v1" } }] }) },
  { name: "Gateway server on a unix socket (port 0)", doc: doc(NET, "Gateway", { servers: [{ port: { number: 0, name: "uds", protocol: "HTTP" }, bind: "unix:///var/run/gw.sock", hosts: ["*"] }] }) },
  { name: "Gateway host that is an IP", doc: doc(NET, "Gateway", { servers: [{ port: { number: 80, name: "http", protocol: "HTTP" }, hosts: ["192.0.2.10"] }] }) },
  { name: "Gateway REDIS/MYSQL/UDP protocols Istio parses", doc: doc(NET, "Gateway", { servers: [{ port: { number: 6379, name: "redis", protocol: "REDIS" }, hosts: ["*"] }, { port: { number: 3306, name: "mysql", protocol: "MYSQL" }, hosts: ["*"] }] }) },
  { name: "VirtualService header match name in upper case", doc: doc(NET, "VirtualService", { hosts: ["api.example.com"], http: [{ match: [{ headers: { "X-Canary": { exact: "1" } } }], route }] }) },
  { name: "VirtualService empty uri StringMatch", doc: doc(NET, "VirtualService", { hosts: ["api.example.com"], http: [{ match: [{ uri: {} }], route }] }) },
  { name: "VirtualService JWT claim route on a gateway", doc: doc(NET, "VirtualService", { hosts: ["api.example.com"], gateways: ["shop/edge"], http: [{ match: [{ headers: { "@request.auth.claims.groups": { exact: "admin" } } }], route }] }) },
  { name: "VirtualService delay without fixedDelay (a warning, as in Istio)", doc: doc(NET, "VirtualService", { hosts: ["api.example.com"], http: [{ fault: { delay: { percentage: { value: 10 } } }, route }] }), warnings: ["spec.http[0].fault.delay"] },
  { name: "Sidecar egress to every namespace's services", doc: doc(NET, "Sidecar", { egress: [{ hosts: ["*/*"] }] }) },
];

const refused: { name: string; doc: unknown; path: string; message: string }[] = [
  { name: "ServiceEntry hosts must be FQDNs for DNS without endpoints", doc: doc(NET, "ServiceEntry", { hosts: ["*.example.com"], ports: [{ number: 443, name: "tls", protocol: "TLS" }], resolution: "DNS" }), path: "spec.hosts[0]", message: "must be FQDN" },
  { name: "ServiceEntry port without a name", doc: doc(NET, "ServiceEntry", { hosts: ["a.example.com"], ports: [{ number: 80, protocol: "HTTP" }] }), path: "spec.ports[0].name", message: "required" },
  { name: "ServiceEntry several hosts with a TCP port", doc: doc(NET, "ServiceEntry", { hosts: ["a.example.com", "b.example.com"], ports: [{ number: 5432, name: "pg", protocol: "TCP" }], resolution: "DNS" }), path: "spec.ports[0].protocol", message: "multiple hosts provided with non-HTTP, non-TLS ports" },
  { name: "WorkloadEntry unix socket directory", doc: doc(NET, "WorkloadEntry", { address: "unix:///var/run/" }), path: "spec.address", message: "not an absolute path to a file" },
  { name: "WorkloadEntry relative unix socket", doc: doc(NET, "WorkloadEntry", { address: "unix://run/app.sock" }), path: "spec.address", message: "not an absolute path to a file" },
  { name: "WorkloadEntry unix socket with ports", doc: doc(NET, "WorkloadEntry", { address: "unix:///run/app.sock", ports: { http: 80 } }), path: "spec.ports", message: "must not include ports" },
  { name: "WorkloadEntry port name not a label", doc: doc(NET, "WorkloadEntry", { address: "10.0.0.1", ports: { "http_web": 80 } }), path: "spec.ports.http_web", message: "invalid port name" },
  { name: "ServiceEntry STATIC unix endpoint with two service ports", doc: doc(NET, "ServiceEntry", { hosts: ["a.example.com"], addresses: ["10.0.0.1"], ports: [{ number: 80, name: "http", protocol: "HTTP" }, { number: 81, name: "admin", protocol: "HTTP" }], resolution: "STATIC", endpoints: [{ address: "unix:///run/a.sock" }] }), path: "spec.endpoints[0].address", message: "exactly 1 service port" },
  { name: "RequestAuthentication claim header with an underscore", doc: doc(SEC, "RequestAuthentication", { jwtRules: [{ issuer: "i", outputClaimToHeaders: [{ header: "x_user", claim: "sub" }] }] }), path: "spec.jwtRules[0].outputClaimToHeaders[0].header", message: "not a valid header name" },
  { name: "RequestAuthentication claim header that is a pseudo-header", doc: doc(SEC, "RequestAuthentication", { jwtRules: [{ issuer: "i", outputClaimToHeaders: [{ header: ":authority", claim: "sub" }] }] }), path: "spec.jwtRules[0].outputClaimToHeaders[0].header", message: "not a valid header name" },
  { name: "RequestAuthentication empty space-delimited claim", doc: doc(SEC, "RequestAuthentication", { jwtRules: [{ issuer: "i", spaceDelimitedClaims: [""] }] }), path: "spec.jwtRules[0].spaceDelimitedClaims[0]", message: "non-empty" },
  { name: "AuthorizationPolicy serviceAccounts with a wildcard", doc: doc(SEC, "AuthorizationPolicy", { rules: [{ from: [{ source: { serviceAccounts: ["shop/*"] } }] }] }), path: "spec.rules[0].from[0].source.serviceAccounts[0]", message: "wildcard not allowed" },
  { name: "AuthorizationPolicy serviceAccounts with two slashes", doc: doc(SEC, "AuthorizationPolicy", { rules: [{ from: [{ source: { serviceAccounts: ["a/b/c"] } }] }] }), path: "spec.rules[0].from[0].source.serviceAccounts[0]", message: "expected format" },
  { name: "AuthorizationPolicy CUSTOM with principals", doc: doc(SEC, "AuthorizationPolicy", { action: "CUSTOM", provider: { name: "ext" }, rules: [{ from: [{ source: { principals: ["a"] } }] }] }), path: "spec.rules[0].from[0].source.principals", message: "not supported with CUSTOM" },
  { name: "policy targetRef Gateway without the Gateway API group", doc: doc(SEC, "AuthorizationPolicy", { targetRef: { kind: "Gateway", name: "edge" }, rules: [{}] }), path: "spec.targetRef.kind", message: "targetRef must be to one of" },
  { name: "policy targetRef naming its own namespace", doc: doc(SEC, "AuthorizationPolicy", { targetRef: { group: "", kind: "Service", name: "api", namespace: "shop" }, rules: [{}] }), path: "spec.targetRef.namespace", message: "cross namespace" },
  { name: "DestinationRule maglev table size not prime", doc: doc(NET, "DestinationRule", { host: "a.example.com", trafficPolicy: { loadBalancer: { consistentHash: { useSourceIp: true, maglev: { tableSize: 1000 } } } } }), path: "spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize", message: "prime" },
  { name: "DestinationRule upgrade with client protocol", doc: doc(NET, "DestinationRule", { host: "a.example.com", trafficPolicy: { connectionPool: { http: { h2UpgradePolicy: "UPGRADE", useClientProtocol: true } } } }), path: "spec.trafficPolicy.connectionPool.http.useClientProtocol", message: "must not be true" },
  { name: "DestinationRule empty traffic policy", doc: doc(NET, "DestinationRule", { host: "a.example.com", trafficPolicy: {} }), path: "spec.trafficPolicy", message: "at least one field" },
  { name: "DestinationRule http2KeepAlive below 1ms", doc: doc(NET, "DestinationRule", { host: "a.example.com", trafficPolicy: { connectionPool: { http: { http2KeepAlive: { interval: "0s" } } } } }), path: "spec.trafficPolicy.connectionPool.http.http2KeepAlive.interval", message: "at least 1ms" },
  { name: "DestinationRule workloadSelector exported beyond its namespace", doc: doc(NET, "DestinationRule", { host: "a.example.com", workloadSelector: { matchLabels: { app: "a" } }, exportTo: ["*"] }), path: "spec.exportTo", message: "cannot have exportTo beyond current namespace" },
  { name: "exportTo ~ on a VirtualService", doc: doc(NET, "VirtualService", { hosts: ["a.example.com"], exportTo: ["~"], http: [{ route }] }), path: "spec.exportTo[0]", message: "not allowed" },
  { name: "Gateway server port without a name", doc: doc(NET, "Gateway", { servers: [{ port: { number: 80, protocol: "HTTP" }, hosts: ["*"] }] }), path: "spec.servers[0].port.name", message: "required" },
  { name: "Gateway servers sharing a port name", doc: doc(NET, "Gateway", { servers: [{ port: { number: 80, name: "http", protocol: "HTTP" }, hosts: ["a.example.com"] }, { port: { number: 80, name: "http", protocol: "HTTP" }, hosts: ["b.example.com"] }] }), path: "spec.servers[1].port.name", message: "must be unique" },
  { name: "Gateway short host name", doc: doc(NET, "Gateway", { servers: [{ port: { number: 80, name: "http", protocol: "HTTP" }, hosts: ["reviews"] }] }), path: "spec.servers[0].hosts[0]", message: "short names" },
  { name: "Gateway ~ namespace in a host", doc: doc(NET, "Gateway", { servers: [{ port: { number: 80, name: "http", protocol: "HTTP" }, hosts: ["~/a.example.com"] }] }), path: "spec.servers[0].hosts[0]", message: "invalid namespace value" },
  { name: "Gateway name with dots", doc: doc(NET, "Gateway", { servers: [{ port: { number: 80, name: "http", protocol: "HTTP" }, hosts: ["*"] }] }, "edge.gw"), path: "metadata.name", message: "invalid gateway name" },
  { name: "VirtualService wildcard host overlapping another host", doc: doc(NET, "VirtualService", { hosts: ["*.example.com", "api.example.com"], http: [{ route }] }), path: "spec.hosts[1]", message: "duplicate hosts" },
  { name: "VirtualService JWT claim route without a gateway", doc: doc(NET, "VirtualService", { hosts: ["api.example.com"], http: [{ match: [{ headers: { "@request.auth.claims.groups": { exact: "admin" } } }], route }] }), path: 'spec.http[0].match[0].headers["@request.auth.claims.groups"]', message: "only supported for gateway" },
  { name: "VirtualService gateway ref with a * namespace", doc: doc(NET, "VirtualService", { hosts: ["api.example.com"], gateways: ["*/edge"], http: [{ route }] }), path: "spec.gateways[0]", message: "invalid value for namespace" },
  { name: "VirtualService setting :path", doc: doc(NET, "VirtualService", { hosts: ["api.example.com"], http: [{ headers: { request: { set: { ":path": "/x" } } }, route }] }), path: 'spec.http[0].headers.request.set[":path"]', message: "cannot have \":\" prefix" },
  { name: "VirtualService authority rewritten twice", doc: doc(NET, "VirtualService", { hosts: ["api.example.com"], http: [{ rewrite: { authority: "a" }, headers: { request: { set: { host: "b" } } }, route }] }), path: "spec.http[0].headers.request.set.host", message: "cannot be set multiple times" },
  { name: "VirtualService CORS method unknown", doc: doc(NET, "VirtualService", { hosts: ["api.example.com"], http: [{ corsPolicy: { allowMethods: ["FETCH"] }, route }] }), path: "spec.http[0].corsPolicy.allowMethods[0]", message: "not a supported HTTP method" },
  { name: "VirtualService retries with attempts 0", doc: doc(NET, "VirtualService", { hosts: ["api.example.com"], http: [{ retries: { attempts: 0, retryOn: "5xx" }, route }] }), path: "spec.http[0].retries.attempts", message: "attempts are set to 0" },
  { name: "VirtualService retryOn with an unnamed status", doc: doc(NET, "VirtualService", { hosts: ["api.example.com"], http: [{ retries: { attempts: 2, retryOn: "599" }, route }] }), path: "spec.http[0].retries.retryOn", message: "not a valid retryOn policy" },
  { name: "VirtualService header value with an unterminated %", doc: doc(NET, "VirtualService", { hosts: ["api.example.com"], http: [{ headers: { response: { set: { "x-a": "50%" } } }, route }] }), path: "spec.http[0].headers.response.set.x-a", message: "unterminated %" },
  { name: "VirtualService regex uriRegexRewrite with an empty rewrite", doc: doc(NET, "VirtualService", { hosts: ["api.example.com"], http: [{ rewrite: { uriRegexRewrite: { match: "^/a", rewrite: "" } }, route }] }), path: "spec.http[0].rewrite.uriRegexRewrite", message: "requires both" },
];

for (const c of accepted) {
  test(`accepted as in Istio: ${c.name}`, () => {
    const r = validateResource(c.doc);
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
    assert.deepEqual(r.warnings.map((w) => w.path), c.warnings ?? [], JSON.stringify(r.warnings));
  });
}

for (const c of refused) {
  test(`refused as in Istio: ${c.name}`, () => {
    const r = validateResource(c.doc);
    assert.equal(r.ok, false, "must be refused");
    if (r.ok) return;
    const hit = r.errors.find((e) => e.path === c.path);
    assert.ok(hit !== undefined, JSON.stringify(r.errors));
    assert.ok(hit.message.includes(c.message), `${hit.message} should include ${c.message}`);
  });
}

test("metadata annotations as Istio's validateMetadata: istio.io/dry-run only on ALLOW/DENY AuthorizationPolicies, internal ones refused", () => {
  const withAnnotations = (kind: string, apiVersion: string, spec: unknown, annotations: Record<string, string>) => ({ apiVersion, kind, metadata: { name: "x", namespace: "shop", annotations }, spec });
  assert.ok(validateResource(withAnnotations("AuthorizationPolicy", SEC, { action: "DENY", rules: [{}] }, { "istio.io/dry-run": "true" })).ok);
  const cases: [unknown, string][] = [
    [withAnnotations("AuthorizationPolicy", SEC, { action: "AUDIT", rules: [{}] }, { "istio.io/dry-run": "true" }), "only supports action ALLOW/DENY"],
    [withAnnotations("AuthorizationPolicy", SEC, { rules: [{}] }, { "istio.io/dry-run": "yes" }), "must be true or false"],
    [withAnnotations("PeerAuthentication", SEC, {}, { "istio.io/dry-run": "true" }), "unsupported annotation"],
    [withAnnotations("PeerAuthentication", SEC, {}, { "internal.istio.io/parent-namespace": "a" }), "may not be set by users"],
  ];
  for (const [d, message] of cases) {
    const r = validateResource(d);
    assert.equal(r.ok, false, message);
    if (!r.ok) assert.ok(r.errors.some((e) => e.path.startsWith("metadata.annotations") && e.message.includes(message)), JSON.stringify(r.errors));
  }
});

test("validation warns about rules and matches that can never fire, as Istio's webhook does", () => {
  const r = validateResource(doc(NET, "VirtualService", { hosts: ["api.example.com"], http: [{ match: [{ uri: { prefix: "/api" } }], route }, { match: [{ uri: { prefix: "/api/v2" } }, { uri: { exact: "/health" } }], route }, { route }, { route }] }));
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  assert.deepEqual(r.warnings.map((w) => `${w.path} ${w.message.slice(0, 7)}`), ["spec.http[1].match[0] IST0131", "spec.http[3] IST0130"]);
  assert.match(r.warnings[1]!.message, /not used \(only the last rule can have no matches\)/);
});
