import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseDocuments } from "../../../src/core/config/parse-documents.ts";
import { validateResource } from "../../../src/core/config/validate.ts";

const FIXTURES = join(import.meta.dirname, "../../fixtures/istio");

type Doc = Record<string, any>;

function fixture(file: string, index = 0): Doc {
  const doc = parseDocuments(readFileSync(join(FIXTURES, file), "utf8"), file)[index];
  assert.ok(doc !== undefined, `${file}#${index} exists`);
  return structuredClone(doc) as Doc;
}

function resource(apiVersion: string, kind: string, spec: unknown, name = "x", namespace = "default"): Doc {
  return { apiVersion, kind, metadata: { name, namespace }, spec };
}

const NET = "networking.istio.io/v1";
const SEC = "security.istio.io/v1";

interface Case {
  name: string;
  doc: () => Doc;
  /** Every error path, in order, and a substring of the first error's message. */
  paths: string[];
  message: string;
}

const se = (spec: Doc) => resource(NET, "ServiceEntry", { hosts: ["api.example.com"], ports: [{ number: 443, name: "https", protocol: "TLS" }], ...spec });

const cases: Case[] = [
  // ---- envelope and metadata ----
  { name: "unsupported apiVersion", doc: () => ({ ...fixture("virtual-service-reviews-80-20.yaml"), apiVersion: "networking.istio.io/v2" }), paths: ["apiVersion"], message: "does not serve VirtualService" },
  { name: "unsupported kind", doc: () => ({ ...fixture("virtual-service-reviews-80-20.yaml"), kind: "EnvoyFilter" }), paths: ["kind"], message: "unsupported kind" },
  { name: "unknown top-level field", doc: () => ({ ...fixture("virtual-service-reviews-80-20.yaml"), extra: 1 }), paths: ["extra"], message: "unknown field" },
  { name: "name not DNS-1123", doc: () => { const d = fixture("virtual-service-reviews-80-20.yaml"); d.metadata.name = "Reviews"; return d; }, paths: ["metadata.name"], message: "DNS-1123 subdomain" },
  { name: "namespace not DNS-1123", doc: () => { const d = fixture("virtual-service-reviews-80-20.yaml"); d.metadata.namespace = "foo_bar"; return d; }, paths: ["metadata.namespace"], message: "DNS-1123 label" },
  { name: "metadata without name", doc: () => { const d = fixture("virtual-service-reviews-80-20.yaml"); delete d.metadata.name; return d; }, paths: ["metadata.name"], message: "required" },
  { name: "unknown metadata field", doc: () => { const d = fixture("virtual-service-reviews-80-20.yaml"); d.metadata.nmespace = "x"; return d; }, paths: ["metadata.nmespace"], message: "unknown field" },

  // ---- VirtualService ----
  { name: "negative weight", doc: () => { const d = fixture("virtual-service-reviews-80-20.yaml"); d.spec.http[0].route[1].weight = -1; return d; }, paths: ["spec.http[0].route[1].weight"], message: "must be >= 0" },
  { name: "weight as a string", doc: () => { const d = fixture("virtual-service-reviews-80-20.yaml"); d.spec.http[0].route[0].weight = "80"; return d; }, paths: ["spec.http[0].route[0].weight"], message: "must be a number" },
  { name: "all weights zero", doc: () => { const d = fixture("virtual-service-reviews-50-v3.yaml"); d.spec.http[0].route[0].weight = 0; d.spec.http[0].route[1].weight = 0; return d; }, paths: ["spec.http[0].route"], message: "total destination weight" },
  { name: "unknown nested field", doc: () => { const d = fixture("virtual-service-reviews-80-20.yaml"); d.spec.http[0].route[1].destination.subsett = "v2"; return d; }, paths: ["spec.http[0].route[1].destination.subsett"], message: 'unknown field "subsett" (did you mean "subset"?)' },
  { name: "header name not an HTTP token", doc: () => { const d = fixture("virtual-service-reviews-test-v2.yaml"); d.spec.http[0].match[0].headers = { "end user": { exact: "jason" } }; return d; }, paths: ['spec.http[0].match[0].headers["end user"]'], message: "is not a valid header name" },
  { name: "StringMatch with exact and prefix", doc: () => { const d = fixture("virtual-service-reviews-test-v2.yaml"); d.spec.http[0].match[0].headers["end-user"].prefix = "ja"; return d; }, paths: ["spec.http[0].match[0].headers.end-user"], message: "only one of exact, prefix, regex" },
  { name: "header op name with a space and a newline", doc: () => { const d = fixture("virtual-service-reviews-80-20.yaml"); d.spec.http[0].headers = { request: { set: { "x a\n": "v" } } }; return d; }, paths: ['spec.http[0].headers.request.set["x a\\n"]'], message: "not a valid HTTP header name" },
  { name: "header op remove of a name with a colon inside", doc: () => { const d = fixture("virtual-service-reviews-80-20.yaml"); d.spec.http[0].headers = { response: { remove: ["x:y"] } }; return d; }, paths: ["spec.http[0].headers.response.remove[0]"], message: "not a valid HTTP header name" },
  { name: "weight .nan (YAML) is named as such", doc: () => { const d = fixture("virtual-service-reviews-80-20.yaml"); d.spec.http[0].route[0].weight = Number.NaN; return d; }, paths: ["spec.http[0].route[0].weight"], message: "got NaN, not a finite number" },
  { name: "empty method prefix", doc: () => { const d = fixture("bookinfo-gateway.yaml", 1); d.spec.http[0].match[1].method = { prefix: "" }; return d; }, paths: ["spec.http[0].match[1].method.prefix"], message: "prefix string match should not be empty" },
  { name: "regex lookahead (not RE2)", doc: () => { const d = fixture("bookinfo-gateway.yaml", 1); d.spec.http[0].match[0].uri = { regex: "/(?=product).*" }; return d; }, paths: ["spec.http[0].match[0].uri.regex"], message: "lookaround" },
  { name: "regex backreference (not RE2)", doc: () => { const d = fixture("bookinfo-gateway.yaml", 1); d.spec.http[0].match[0].uri = { regex: "/(a)\\1" }; return d; }, paths: ["spec.http[0].match[0].uri.regex"], message: "backreferences" },
  { name: "regex that does not compile", doc: () => { const d = fixture("bookinfo-gateway.yaml", 1); d.spec.http[0].match[0].uri = { regex: "/(unclosed" }; return d; }, paths: ["spec.http[0].match[0].uri.regex"], message: "invalid regex" },
  { name: "regex over 1024 chars", doc: () => { const d = fixture("bookinfo-gateway.yaml", 1); d.spec.http[0].match[0].uri = { regex: "a".repeat(1025) }; return d; }, paths: ["spec.http[0].match[0].uri.regex"], message: "max length allowed is 1024" },
  { name: "route and redirect", doc: () => { const d = fixture("virtual-service-reviews-80-20.yaml"); d.spec.http[0].redirect = { uri: "/x" }; return d; }, paths: ["spec.http[0].redirect"], message: "HTTP route cannot contain both route and redirect" },
  { name: "no action", doc: () => { const d = fixture("virtual-service-reviews-80-20.yaml"); delete d.spec.http[0].route; d.spec.http[0].timeout = "1s"; return d; }, paths: ["spec.http[0]"], message: "HTTP route, redirect or direct_response is required" },
  { name: "rewrite with directResponse", doc: () => resource(NET, "VirtualService", { hosts: ["a"], http: [{ directResponse: { status: 503 }, rewrite: { uri: "/x" } }] }), paths: ["spec.http[0].rewrite"], message: "cannot contain both rewrite and direct_response" },
  { name: "fault with redirect", doc: () => resource(NET, "VirtualService", { hosts: ["a"], http: [{ redirect: { uri: "/x" }, fault: { abort: { httpStatus: 500, percentage: { value: 1 } } } }] }), paths: ["spec.http[0].fault"], message: "cannot contain both fault and redirect" },
  { name: "mirror and mirrors", doc: () => { const d = fixture("mirroring.yaml", 2); d.spec.http[0].mirrors = [{ destination: { host: "httpbin", subset: "v2" } }]; return d; }, paths: ["spec.http[0].mirrors"], message: "cannot contain both mirror and mirrors" },
  { name: "mirrorPercentage over 100", doc: () => { const d = fixture("mirroring.yaml", 2); delete d.spec.http[0].mirrorPercent; d.spec.http[0].mirrorPercentage = { value: 100.5 }; return d; }, paths: ["spec.http[0].mirrorPercentage.value"], message: "must be <= 100" },
  { name: "fault percentage below 0.0001", doc: () => { const d = fixture("virtual-service-ratings-test-delay.yaml"); d.spec.http[0].fault.delay.percentage.value = 0.00001; return d; }, paths: ["spec.http[0].fault.delay.percentage.value"], message: "0.0001" },
  { name: "fault percentage over 100", doc: () => { const d = fixture("virtual-service-ratings-test-abort.yaml"); d.spec.http[0].fault.abort.percentage.value = 101; return d; }, paths: ["spec.http[0].fault.abort.percentage.value"], message: "must be <= 100" },
  { name: "delay under 1ms", doc: () => { const d = fixture("virtual-service-ratings-test-delay.yaml"); d.spec.http[0].fault.delay.fixedDelay = "0.5ms"; return d; }, paths: ["spec.http[0].fault.delay.fixedDelay"], message: "at least 1ms" },
  { name: "exponentialDelay", doc: () => { const d = fixture("virtual-service-ratings-test-delay.yaml"); delete d.spec.http[0].fault.delay.fixedDelay; d.spec.http[0].fault.delay.exponentialDelay = "1s"; return d; }, paths: ["spec.http[0].fault.delay.exponentialDelay"], message: "not supported yet" },
  { name: "abort http2Error", doc: () => { const d = fixture("virtual-service-ratings-test-abort.yaml"); delete d.spec.http[0].fault.abort.httpStatus; d.spec.http[0].fault.abort.http2Error = "x"; return d; }, paths: ["spec.http[0].fault.abort.http2Error"], message: "not supported yet" },
  { name: "abort status out of range", doc: () => { const d = fixture("virtual-service-ratings-test-abort.yaml"); d.spec.http[0].fault.abort.httpStatus = 700; return d; }, paths: ["spec.http[0].fault.abort.httpStatus"], message: "is not in range 200-599" },
  { name: "timeout not a duration", doc: () => { const d = fixture("request-timeouts.yaml", 2); d.spec.http[0].timeout = "half a second"; return d; }, paths: ["spec.http[0].timeout"], message: "must be a duration" },
  { name: "unknown retryOn policy", doc: () => { const d = fixture("request-timeouts.yaml", 2); d.spec.http[0].retries = { attempts: 3, retryOn: "5xx,sometimes" }; return d; }, paths: ["spec.http[0].retries.retryOn"], message: '"sometimes"' },
  { name: "negative retry attempts", doc: () => { const d = fixture("request-timeouts.yaml", 2); d.spec.http[0].retries = { attempts: -1 }; return d; }, paths: ["spec.http[0].retries.attempts"], message: "must be >= 0" },
  { name: '"*" host bound to mesh', doc: () => { const d = fixture("bookinfo-gateway.yaml", 1); delete d.spec.gateways; return d; }, paths: ["spec.hosts[0]"], message: "mesh gateway" },
  { name: "duplicate hosts", doc: () => { const d = fixture("virtual-service-reviews-80-20.yaml"); d.spec.hosts = ["reviews", "Reviews"]; return d; }, paths: ["spec.hosts[1]"], message: "duplicate host" },
  { name: "port out of range", doc: () => { const d = fixture("bookinfo-gateway.yaml", 1); d.spec.http[0].route[0].destination.port.number = 70000; return d; }, paths: ["spec.http[0].route[0].destination.port.number"], message: "must be <= 65535" },
  { name: "subset not a DNS label", doc: () => { const d = fixture("virtual-service-all-v1.yaml"); d.spec.http[0].route[0].destination.subset = "v1_a"; return d; }, paths: ["spec.http[0].route[0].destination.subset"], message: "subset name is invalid" },
  { name: "no http, tls or tcp", doc: () => { const d = fixture("virtual-service-all-v1.yaml"); delete d.spec.http; return d; }, paths: ["spec"], message: "http, tcp or tls must be provided" },
  { name: "wildcard in the middle of a host", doc: () => { const d = fixture("virtual-service-all-v1.yaml"); d.spec.hosts = ["a.*.com"]; return d; }, paths: ["spec.hosts[0]"], message: "invalid (label \"*\" invalid)" },
  { name: "rewrite without uri/authority", doc: () => { const d = fixture("virtual-service-all-v1.yaml"); d.spec.http[0].rewrite = {}; return d; }, paths: ["spec.http[0].rewrite"], message: "at least one of URI, UriRegexRewrite, or authority" },
  { name: "redirect code not 3xx", doc: () => resource(NET, "VirtualService", { hosts: ["a"], http: [{ redirect: { uri: "/x", redirectCode: 200 } }] }), paths: ["spec.http[0].redirect.redirectCode"], message: "3xx" },
  { name: "directResponse without status", doc: () => resource(NET, "VirtualService", { hosts: ["a"], http: [{ directResponse: { body: { string: "x" } } }] }), paths: ["spec.http[0].directResponse.status"], message: "required" },
  { name: "tls route SNI outside the hosts", doc: () => resource(NET, "VirtualService", { hosts: ["a.example.com"], tls: [{ match: [{ sniHosts: ["b.example.com"] }], route: [{ destination: { host: "a.example.com" } }] }] }), paths: ["spec.tls[0].match[0].sniHosts[0]"], message: "is not a compatible subset of any of the virtual service hosts" },

  // ---- DestinationRule ----
  { name: "maxEjectionPercent over 100", doc: () => { const d = fixture("circuit-breaking.yaml"); d.spec.trafficPolicy.outlierDetection.maxEjectionPercent = 101; return d; }, paths: ["spec.trafficPolicy.outlierDetection.maxEjectionPercent"], message: "must be <= 100" },
  { name: "negative maxConnections", doc: () => { const d = fixture("circuit-breaking.yaml"); d.spec.trafficPolicy.connectionPool.tcp.maxConnections = -1; return d; }, paths: ["spec.trafficPolicy.connectionPool.tcp.maxConnections"], message: "must be >= 0" },
  { name: "interval without unit", doc: () => { const d = fixture("circuit-breaking.yaml"); d.spec.trafficPolicy.outlierDetection.interval = "1"; return d; }, paths: ["spec.trafficPolicy.outlierDetection.interval"], message: "must be a duration" },
  { name: "duplicate subset", doc: () => { const d = fixture("destination-rule-all.yaml", 1); d.spec.subsets[1].name = "v1"; return d; }, paths: ["spec.subsets[1].name"], message: "duplicate subset" },
  { name: "subset label with *", doc: () => { const d = fixture("destination-rule-all.yaml", 1); d.spec.subsets[0].labels.version = "v*"; return d; }, paths: ["spec.subsets[0].labels.version"], message: 'must not contain "*"' },
  { name: "simple and consistentHash", doc: () => { const d = fixture("circuit-breaking.yaml"); d.spec.trafficPolicy.loadBalancer = { simple: "RANDOM", consistentHash: { useSourceIp: true } }; return d; }, paths: ["spec.trafficPolicy.loadBalancer.consistentHash"], message: "only one of simple, consistentHash" },
  { name: "MUTUAL without certificates", doc: () => { const d = fixture("circuit-breaking.yaml"); d.spec.trafficPolicy.tls = { mode: "MUTUAL" }; return d; }, paths: ["spec.trafficPolicy.tls.clientCertificate", "spec.trafficPolicy.tls.privateKey"], message: "required for mutual tls" },
  { name: "bad LB enum", doc: () => { const d = fixture("circuit-breaking.yaml"); d.spec.trafficPolicy.loadBalancer = { simple: "FASTEST" }; return d; }, paths: ["spec.trafficPolicy.loadBalancer.simple"], message: "must be one of" },
  { name: "DR without host", doc: () => { const d = fixture("circuit-breaking.yaml"); delete d.spec.host; return d; }, paths: ["spec.host"], message: "required" },

  // ---- Gateway ----
  { name: "gateway without servers", doc: () => { const d = fixture("bookinfo-gateway.yaml"); d.spec.servers = []; return d; }, paths: ["spec.servers"], message: "at least one server" },
  { name: "server without hosts", doc: () => { const d = fixture("bookinfo-gateway.yaml"); delete d.spec.servers[0].hosts; return d; }, paths: ["spec.servers[0].hosts"], message: "required" },
  { name: "server port 0", doc: () => { const d = fixture("bookinfo-gateway.yaml"); d.spec.servers[0].port.number = 0; return d; }, paths: ["spec.servers[0].port.number"], message: "must be in the range 1..65535" },
  { name: "unknown server protocol", doc: () => { const d = fixture("bookinfo-gateway.yaml"); d.spec.servers[0].port.protocol = "QUIC"; return d; }, paths: ["spec.servers[0].port.protocol"], message: "invalid protocol \"QUIC\"" },
  { name: "two kinds of TLS credentials", doc: () => { const d = fixture("bookinfo-gateway.yaml"); d.spec.servers[0].port = { number: 443, name: "https", protocol: "HTTPS" }; d.spec.servers[0].tls = { mode: "SIMPLE", credentialName: "a", tlsCertificates: [{ serverCertificate: "/c", privateKey: "/k" }] }; return d; }, paths: ["spec.servers[0].tls"], message: "only one of credentialName, credentialNames, serverCertificate/privateKey, tlsCertificates" },
  { name: "HTTPS without tls", doc: () => { const d = fixture("bookinfo-gateway.yaml"); d.spec.servers[0].port = { number: 443, name: "https", protocol: "HTTPS" }; return d; }, paths: ["spec.servers[0].tls"], message: "must have TLS settings for HTTPS/TLS" },
  { name: "bad server host", doc: () => { const d = fixture("bookinfo-gateway.yaml"); d.spec.servers[0].hosts = ["foo.*.com"]; return d; }, paths: ["spec.servers[0].hosts[0]", "spec.servers[0].hosts[0]"], message: "invalid (label \"*\" invalid)" },

  // ---- ServiceEntry ----
  { name: 'ServiceEntry host "*"', doc: () => se({ hosts: ["*"] }), paths: ["spec.hosts[0]"], message: '"*" is not allowed' },
  { name: "endpoints and workloadSelector", doc: () => se({ resolution: "STATIC", endpoints: [{ address: "10.0.0.1" }], workloadSelector: { labels: { app: "a" } } }), paths: ["spec.workloadSelector"], message: "only one of workloadSelector or endpoints" },
  { name: "duplicate port numbers", doc: () => se({ ports: [{ number: 443, name: "https" }, { number: 443, name: "tls" }] }), paths: ["spec.ports[1].number"], message: "service entry port 443 already defined" },
  { name: "NONE with endpoints", doc: () => se({ resolution: "NONE", endpoints: [{ address: "10.0.0.1" }] }), paths: ["spec.endpoints"], message: "no endpoints should be provided for resolution type NONE" },
  { name: "CIDR with DNS resolution", doc: () => se({ resolution: "DNS", addresses: ["10.0.0.0/24"] }), paths: ["spec.addresses[0]"], message: "CIDR addresses are allowed only for NONE/STATIC" },
  { name: "DNS_ROUND_ROBIN with 2 endpoints", doc: () => se({ resolution: "DNS_ROUND_ROBIN", endpoints: [{ address: "a.example.com" }, { address: "b.example.com" }] }), paths: ["spec.endpoints"], message: "there must only be 0 or 1 endpoint" },
  { name: "STATIC endpoint with a DNS name", doc: () => se({ resolution: "STATIC", endpoints: [{ address: "a.example.com" }] }), paths: ["spec.endpoints[0].address"], message: "is not a valid IP address" },
  { name: "endpoint port not declared", doc: () => se({ resolution: "STATIC", endpoints: [{ address: "10.0.0.1", ports: { grpc: 9000 } }] }), paths: ["spec.endpoints[0].ports.grpc"], message: "is not defined by the service entry" },
  { name: "bad resolution enum", doc: () => se({ resolution: "MAGIC" }), paths: ["spec.resolution"], message: "must be one of" },

  // ---- WorkloadEntry ----
  { name: "WorkloadEntry without address or network", doc: () => resource(NET, "WorkloadEntry", { labels: { app: "a" } }), paths: ["spec.address"], message: "address is required" },
  { name: "WorkloadEntry with an invalid address", doc: () => resource(NET, "WorkloadEntry", { address: "not a host!" }), paths: ["spec.address"], message: "not a valid FQDN or an IP address" },
  { name: "WorkloadEntry port out of range", doc: () => resource(NET, "WorkloadEntry", { address: "10.0.0.1", ports: { http: 0 } }), paths: ["spec.ports.http"], message: "must be in the range 1..65535" },

  // ---- AuthorizationPolicy ----
  { name: "unknown action", doc: () => { const d = fixture("authz-http.yaml", 1); d.spec.action = "REJECT"; return d; }, paths: ["spec.action"], message: "must be one of ALLOW, DENY, AUDIT, CUSTOM" },
  { name: "DENY without rules", doc: () => { const d = fixture("authz-deny.yaml"); delete d.spec.rules; return d; }, paths: ["spec.rules"], message: "DENY action without `rules` is meaningless" },
  { name: "serviceAccounts with principals", doc: () => { const d = fixture("authz-http.yaml", 3); d.spec.rules[0].from[0].source.serviceAccounts = ["default/bookinfo-productpage"]; return d; }, paths: ["spec.rules[0].from[0].source.serviceAccounts"], message: "cannot set serviceAccounts with namespaces or principals" },
  { name: "when key not allowed", doc: () => { const d = fixture("authz-deny.yaml", 1); d.spec.rules[0].when[0].key = "destination.labels"; return d; }, paths: ["spec.rules[0].when[0].key"], message: "replaced by the workload selector" },
  { name: "when without values", doc: () => { const d = fixture("authz-deny.yaml", 1); delete d.spec.rules[0].when[0].notValues; return d; }, paths: ["spec.rules[0].when[0]"], message: "at least one of `values` or `notValues` must be set" },
  { name: "bad ipBlock", doc: () => { const d = fixture("authz-http.yaml", 3); d.spec.rules[0].from[0].source = { ipBlocks: ["10.0.0.300/8"] }; return d; }, paths: ["spec.rules[0].from[0].source.ipBlocks[0]"], message: "bad CIDR range" },
  { name: "named port", doc: () => { const d = fixture("authz-http.yaml", 1); d.spec.rules[0].to[0].operation.ports = ["http"]; return d; }, paths: ["spec.rules[0].to[0].operation.ports[0]"], message: "bad port (http)" },
  { name: "provider without CUSTOM", doc: () => { const d = fixture("authz-http.yaml", 1); d.spec.provider = { name: "ext" }; return d; }, paths: ["spec.provider"], message: "must not be with non CUSTOM action" },
  { name: "unknown source field", doc: () => { const d = fixture("authz-http.yaml", 3); d.spec.rules[0].from[0].source.principal = ["x"]; return d; }, paths: ["spec.rules[0].from[0].source.principal"], message: 'unknown field "principal" (did you mean "principals"?)' },
  { name: "empty source", doc: () => { const d = fixture("authz-http.yaml", 3); d.spec.rules[0].from[0].source = {}; return d; }, paths: ["spec.rules[0].from[0].source"], message: "must not be empty" },
  { name: "selector and targetRef", doc: () => { const d = fixture("authz-http.yaml", 1); d.spec.targetRef = { kind: "Gateway", group: "gateway.networking.k8s.io", name: "gw" }; return d; }, paths: ["spec.targetRef"], message: "only one of targetRefs or workloadSelector" },
  { name: "{**} not last", doc: () => { const d = fixture("authz-deny.yaml", 2); d.spec.rules[0].to[0].operation.paths = ["/a/{**}/b/{*}"]; return d; }, paths: ["spec.rules[0].to[0].operation.paths[0]"], message: "{**} is not the last operator" },

  // ---- PeerAuthentication ----
  { name: "portLevelMtls without selector", doc: () => { const d = fixture("authn-policy.yaml", 3); delete d.spec.selector; return d; }, paths: ["spec.portLevelMtls"], message: "cannot have port level mTLS" },
  { name: "bad mTLS mode", doc: () => { const d = fixture("authn-policy.yaml", 0); d.spec.mtls.mode = "STRICTER"; return d; }, paths: ["spec.mtls.mode"], message: "must be one of UNSET, DISABLE, PERMISSIVE, STRICT" },
  { name: "portLevelMtls port 0", doc: () => { const d = fixture("authn-policy.yaml", 3); d.spec.portLevelMtls = { 0: { mode: "DISABLE" } }; return d; }, paths: ['spec.portLevelMtls["0"]'], message: "1..65535" },

  // ---- RequestAuthentication ----
  { name: "jwtRule without issuer", doc: () => { const d = fixture("authz-jwt.yaml", 0); delete d.spec.jwtRules[0].issuer; return d; }, paths: ["spec.jwtRules[0].issuer"], message: "required" },
  { name: "outputClaimToHeaders header", doc: () => { const d = fixture("authz-jwt.yaml", 0); d.spec.jwtRules[0].outputClaimToHeaders = [{ header: "x header", claim: "sub" }]; return d; }, paths: ["spec.jwtRules[0].outputClaimToHeaders[0].header"], message: "is not a valid header name" },
  { name: "jwksUri not http(s)", doc: () => { const d = fixture("authz-jwt.yaml", 0); d.spec.jwtRules[0].jwksUri = "ftp://example.com/jwks"; return d; }, paths: ["spec.jwtRules[0].jwksUri"], message: "URI scheme \"ftp\" is not supported" },
  { name: "inline jwks not a JWKS", doc: () => { const d = fixture("authz-jwt.yaml", 0); delete d.spec.jwtRules[0].jwksUri; d.spec.jwtRules[0].jwks = "not json"; return d; }, paths: ["spec.jwtRules[0].jwks"], message: "jwks parse error" },
];

for (const c of cases) {
  test(`refused: ${c.name} -> ${c.paths.join(", ")}`, () => {
    const result = validateResource(c.doc());
    assert.equal(result.ok, false, "must be refused");
    if (result.ok) return;
    assert.deepEqual(result.errors.map((e) => e.path), c.paths, JSON.stringify(result.errors));
    assert.ok(result.errors[0]!.message.includes(c.message), `message ${JSON.stringify(result.errors[0]!.message)} should include ${JSON.stringify(c.message)}`);
  });
}

test("a refused resource reports several errors at once, each with its path", () => {
  const d = fixture("virtual-service-reviews-80-20.yaml");
  d.spec.http[0].route[0].weight = -5;
  d.spec.http[0].timeout = "soon";
  d.spec.http[0].bogus = true;
  d.spec.http[0].route[1].destination.subset = "v2_b";
  const result = validateResource(d);
  assert.equal(result.ok, false);
  if (result.ok) return;
  // Range errors and unknown fields do not stop the semantic rules (the subset name check).
  assert.deepEqual(
    result.errors.map((e) => e.path),
    ["spec.http[0].route[0].weight", "spec.http[0].timeout", "spec.http[0].bogus", "spec.http[0].route[1].destination.subset"],
  );
});

test("a wrong type stops the semantic rules, so they never read a malformed value", () => {
  const d = fixture("virtual-service-reviews-80-20.yaml");
  d.spec.http[0].route = "reviews";
  d.spec.hosts = ["reviews", "reviews"];
  const result = validateResource(d);
  assert.equal(result.ok, false);
  if (result.ok) return;
  assert.deepEqual(result.errors, [{ path: "spec.http[0].route", message: 'must be a list (got string "reviews")' }]);
});
