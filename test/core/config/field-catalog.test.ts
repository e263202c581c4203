import { test } from "node:test";
import assert from "node:assert/strict";
import { authorizationPolicyValidator } from "../../../src/core/config/validation/authorization-policy.ts";
import { checkShape } from "../../../src/core/config/validation/check-shape.ts";
import { destinationRuleValidator } from "../../../src/core/config/validation/destination-rule.ts";
import { gatewayValidator } from "../../../src/core/config/validation/gateway.ts";
import { peerAuthenticationValidator } from "../../../src/core/config/validation/peer-authentication.ts";
import { Report } from "../../../src/core/config/validation/report.ts";
import { requestAuthenticationValidator } from "../../../src/core/config/validation/request-authentication.ts";
import { serviceEntryValidator } from "../../../src/core/config/validation/service-entry.ts";
import type { Shape } from "../../../src/core/config/validation/shape.ts";
import { sidecarValidator } from "../../../src/core/config/validation/sidecar.ts";
import { virtualServiceValidator } from "../../../src/core/config/validation/virtual-service.ts";
import { workloadEntryValidator } from "../../../src/core/config/validation/workload-entry.ts";

/**
 * The Istio API (istio/api networking/v1alpha3/*.proto, security/v1beta1/*.proto and
 * the CRDs in istio/istio manifests/charts/base/files/crd-all.gen.yaml, 1.30 line, plus
 * the fields merged since: DestinationRule http2KeepAlive (istio/api#3706),
 * backendUtilization (#3750), zoneAwareLbSetting (#3733), AuthorizationPolicy
 * trustDomains), written down message by message in JSON names. A field's type is
 * "" for a scalar or scalar list, a message name, `Name[]` for a list of
 * messages, or `{Name}` for a map of them. Every field path this table yields
 * must be known to the validator, and the validator must know no other.
 */
const API: Record<string, Record<string, string>> = {
  // common
  StringMatch: { exact: "", prefix: "", regex: "" },
  Percent: { value: "" },
  PortSelector: { number: "" },
  BetaWorkloadSelector: { matchLabels: "" },
  NetworkingWorkloadSelector: { labels: "" },
  PolicyTargetReference: { group: "", kind: "", name: "", namespace: "" },
  // Gateway
  Gateway: { servers: "Server[]", selector: "" },
  Server: { port: "Port", bind: "", hosts: "", tls: "ServerTLSSettings", defaultEndpoint: "", name: "" },
  Port: { number: "", protocol: "", name: "", targetPort: "" },
  ServerTLSSettings: {
    httpsRedirect: "", mode: "", serverCertificate: "", privateKey: "", caCertificates: "", caCrl: "", credentialName: "", credentialNames: "",
    tlsCertificates: "TLSCertificate[]", caCertCredentialName: "", subjectAltNames: "", verifyCertificateSpki: "", verifyCertificateHash: "",
    minProtocolVersion: "", maxProtocolVersion: "", cipherSuites: "", ecdhCurves: "",
  },
  TLSCertificate: { serverCertificate: "", privateKey: "", caCertificates: "" },
  // VirtualService
  VirtualService: { hosts: "", gateways: "", http: "HTTPRoute[]", tls: "TLSRoute[]", tcp: "TCPRoute[]", exportTo: "" },
  HTTPRoute: {
    name: "", match: "HTTPMatchRequest[]", route: "HTTPRouteDestination[]", redirect: "HTTPRedirect", directResponse: "HTTPDirectResponse", delegate: "Delegate",
    rewrite: "HTTPRewrite", timeout: "", retries: "HTTPRetry", fault: "HTTPFaultInjection", mirror: "Destination", mirrors: "HTTPMirrorPolicy[]",
    mirrorPercentage: "Percent", mirrorPercent: "", corsPolicy: "CorsPolicy", headers: "Headers",
  },
  HTTPMatchRequest: {
    name: "", uri: "StringMatch", scheme: "StringMatch", method: "StringMatch", authority: "StringMatch", headers: "{StringMatch}", port: "",
    sourceLabels: "", gateways: "", queryParams: "{StringMatch}", ignoreUriCase: "", withoutHeaders: "{StringMatch}", sourceNamespace: "", statPrefix: "",
  },
  Destination: { host: "", subset: "", port: "PortSelector" },
  HTTPRouteDestination: { destination: "Destination", weight: "", headers: "Headers" },
  RouteDestination: { destination: "Destination", weight: "" },
  Headers: { request: "HeaderOperations", response: "HeaderOperations" },
  HeaderOperations: { set: "", add: "", remove: "" },
  HTTPRedirect: { uri: "", authority: "", port: "", derivePort: "", scheme: "", redirectCode: "", prefixRewrite: "" },
  HTTPDirectResponse: { status: "", body: "HTTPBody" },
  HTTPBody: { string: "", bytes: "" },
  Delegate: { name: "", namespace: "" },
  HTTPRewrite: { uri: "", authority: "", uriRegexRewrite: "RegexRewrite" },
  RegexRewrite: { match: "", rewrite: "" },
  HTTPRetry: { attempts: "", perTryTimeout: "", retryOn: "", retryRemoteLocalities: "", retryIgnorePreviousHosts: "", backoff: "" },
  HTTPFaultInjection: { delay: "Delay", abort: "Abort" },
  Delay: { fixedDelay: "", exponentialDelay: "", percentage: "Percent", percent: "" },
  Abort: { httpStatus: "", grpcStatus: "", http2Error: "", percentage: "Percent" },
  HTTPMirrorPolicy: { destination: "Destination", percentage: "Percent" },
  CorsPolicy: { allowOrigins: "StringMatch[]", allowOrigin: "", allowMethods: "", allowHeaders: "", exposeHeaders: "", maxAge: "", allowCredentials: "", unmatchedPreflights: "" },
  TLSRoute: { match: "TLSMatchAttributes[]", route: "RouteDestination[]" },
  TLSMatchAttributes: { sniHosts: "", destinationSubnets: "", port: "", sourceLabels: "", gateways: "", sourceNamespace: "" },
  TCPRoute: { match: "L4MatchAttributes[]", route: "RouteDestination[]" },
  L4MatchAttributes: { destinationSubnets: "", port: "", sourceSubnet: "", sourceLabels: "", gateways: "", sourceNamespace: "" },
  // DestinationRule
  DestinationRule: { host: "", trafficPolicy: "TrafficPolicy", subsets: "Subset[]", exportTo: "", workloadSelector: "BetaWorkloadSelector" },
  Subset: { name: "", labels: "", trafficPolicy: "TrafficPolicy" },
  TrafficPolicy: {
    loadBalancer: "LoadBalancerSettings", connectionPool: "ConnectionPoolSettings", outlierDetection: "OutlierDetection", tls: "ClientTLSSettings",
    portLevelSettings: "PortTrafficPolicy[]", tunnel: "TunnelSettings", proxyProtocol: "ProxyProtocol", retryBudget: "RetryBudget",
  },
  PortTrafficPolicy: { port: "PortSelector", loadBalancer: "LoadBalancerSettings", connectionPool: "ConnectionPoolSettings", outlierDetection: "OutlierDetection", tls: "ClientTLSSettings" },
  TunnelSettings: { protocol: "", targetHost: "", targetPort: "" },
  ProxyProtocol: { version: "" },
  RetryBudget: { percent: "", minRetryConcurrency: "", budgetInterval: "" },
  LoadBalancerSettings: {
    simple: "", consistentHash: "ConsistentHashLB", backendUtilization: "BackendUtilizationLB", localityLbSetting: "LocalityLoadBalancerSetting",
    zoneAwareLbSetting: "ZoneAwareLoadBalancerSetting", warmupDurationSecs: "", warmup: "WarmupConfiguration",
  },
  ConsistentHashLB: { httpHeaderName: "", httpCookie: "HTTPCookie", useSourceIp: "", httpQueryParameterName: "", ringHash: "RingHash", maglev: "MagLev", minimumRingSize: "" },
  HTTPCookie: { name: "", path: "", ttl: "", attributes: "CookieAttribute[]" },
  CookieAttribute: { name: "", value: "" },
  RingHash: { minimumRingSize: "" },
  MagLev: { tableSize: "" },
  BackendUtilizationLB: { blackoutPeriod: "", weightExpirationPeriod: "", weightUpdatePeriod: "", errorUtilizationPenalty: "", metricNamesForComputingUtilization: "" },
  LocalityLoadBalancerSetting: { distribute: "Distribute[]", failover: "Failover[]", failoverPriority: "", enabled: "" },
  ZoneAwareLoadBalancerSetting: { enabled: "", failover: "Failover[]", failoverPriority: "" },
  Distribute: { from: "", to: "" },
  Failover: { from: "", to: "" },
  WarmupConfiguration: { duration: "", minimumPercent: "", aggression: "" },
  ConnectionPoolSettings: { tcp: "TCPSettings", http: "HTTPSettings" },
  TCPSettings: { maxConnections: "", connectTimeout: "", tcpKeepalive: "TcpKeepalive", maxConnectionDuration: "", idleTimeout: "" },
  TcpKeepalive: { probes: "", time: "", interval: "" },
  HTTPSettings: {
    http1MaxPendingRequests: "", http2MaxRequests: "", maxRequestsPerConnection: "", maxRetries: "", idleTimeout: "", h2UpgradePolicy: "",
    useClientProtocol: "", maxConcurrentStreams: "", http2KeepAlive: "ConnectionKeepalive",
  },
  ConnectionKeepalive: { interval: "", timeout: "" },
  OutlierDetection: {
    consecutiveErrors: "", splitExternalLocalOriginErrors: "", consecutiveLocalOriginFailures: "", consecutiveGatewayErrors: "", consecutive5xxErrors: "",
    interval: "", baseEjectionTime: "", maxEjectionPercent: "", minHealthPercent: "", outlierDetectionHttpErrorCodes: "",
  },
  ClientTLSSettings: { mode: "", clientCertificate: "", privateKey: "", caCertificates: "", credentialName: "", subjectAltNames: "", sni: "", insecureSkipVerify: "", caCrl: "" },
  // ServiceEntry / WorkloadEntry
  ServiceEntry: {
    hosts: "", addresses: "", ports: "ServicePort[]", location: "", resolution: "", endpoints: "WorkloadEntry[]", workloadSelector: "NetworkingWorkloadSelector",
    exportTo: "", subjectAltNames: "",
  },
  ServicePort: { number: "", protocol: "", name: "", targetPort: "" },
  WorkloadEntry: { address: "", ports: "", labels: "", network: "", locality: "", weight: "", serviceAccount: "" },
  // Sidecar
  Sidecar: {
    workloadSelector: "NetworkingWorkloadSelector", ingress: "IstioIngressListener[]", egress: "IstioEgressListener[]", outboundTrafficPolicy: "OutboundTrafficPolicy",
    inboundConnectionPool: "ConnectionPoolSettings",
  },
  IstioIngressListener: { port: "SidecarPort", bind: "", captureMode: "", defaultEndpoint: "", tls: "ServerTLSSettings", connectionPool: "ConnectionPoolSettings" },
  IstioEgressListener: { port: "SidecarPort", bind: "", captureMode: "", hosts: "" },
  SidecarPort: { number: "", protocol: "", name: "", targetPort: "" },
  OutboundTrafficPolicy: { mode: "", egressProxy: "Destination" },
  // security
  AuthorizationPolicy: { selector: "BetaWorkloadSelector", targetRef: "PolicyTargetReference", targetRefs: "PolicyTargetReference[]", rules: "Rule[]", action: "", provider: "ExtensionProvider" },
  ExtensionProvider: { name: "" },
  Rule: { from: "From[]", to: "To[]", when: "Condition[]" },
  From: { source: "Source" },
  To: { operation: "Operation" },
  Source: {
    principals: "", notPrincipals: "", requestPrincipals: "", notRequestPrincipals: "", namespaces: "", notNamespaces: "", serviceAccounts: "", notServiceAccounts: "",
    ipBlocks: "", notIpBlocks: "", remoteIpBlocks: "", notRemoteIpBlocks: "", trustDomains: "", notTrustDomains: "",
  },
  Operation: { hosts: "", notHosts: "", ports: "", notPorts: "", methods: "", notMethods: "", paths: "", notPaths: "" },
  Condition: { key: "", values: "", notValues: "" },
  PeerAuthentication: { selector: "BetaWorkloadSelector", mtls: "MutualTLS", portLevelMtls: "{MutualTLS}" },
  MutualTLS: { mode: "" },
  RequestAuthentication: { selector: "BetaWorkloadSelector", targetRef: "PolicyTargetReference", targetRefs: "PolicyTargetReference[]", jwtRules: "JWTRule[]" },
  JWTRule: {
    issuer: "", audiences: "", jwksUri: "", jwks: "", fromHeaders: "JWTHeader[]", fromParams: "", fromCookies: "", outputPayloadToHeader: "", forwardOriginalToken: "",
    outputClaimToHeaders: "ClaimToHeader[]", timeout: "", spaceDelimitedClaims: "", presence: "",
  },
  JWTHeader: { name: "", prefix: "" },
  ClaimToHeader: { header: "", claim: "" },
};

const KINDS: Record<string, Shape> = {
  Gateway: gatewayValidator.shape,
  VirtualService: virtualServiceValidator.shape,
  DestinationRule: destinationRuleValidator.shape,
  ServiceEntry: serviceEntryValidator.shape,
  WorkloadEntry: workloadEntryValidator.shape,
  Sidecar: sidecarValidator.shape,
  AuthorizationPolicy: authorizationPolicyValidator.shape,
  PeerAuthentication: peerAuthenticationValidator.shape,
  RequestAuthentication: requestAuthenticationValidator.shape,
};

/** Field paths of a message: `a.b`, `list[].c`, `map{}.d`; object paths are listed too. */
function apiPaths(message: string, prefix = ""): { all: string[]; objects: string[] } {
  const fields = API[message];
  assert.ok(fields !== undefined, `message ${message} is in the table`);
  const all: string[] = [];
  const objects: string[] = [prefix];
  for (const [name, type] of Object.entries(fields)) {
    const p = prefix === "" ? name : `${prefix}.${name}`;
    all.push(p);
    if (type === "") continue;
    const inner = type.endsWith("[]") ? { msg: type.slice(0, -2), at: `${p}[]` } : type.startsWith("{") ? { msg: type.slice(1, -1), at: `${p}{}` } : { msg: type, at: p };
    const sub = apiPaths(inner.msg, inner.at);
    all.push(...sub.all);
    objects.push(...sub.objects);
  }
  return { all, objects };
}

function shapePaths(s: Shape, prefix = ""): string[] {
  if (s.type === "object") return Object.entries(s.fields).flatMap(([k, v]) => [prefix === "" ? k : `${prefix}.${k}`, ...shapePaths(v, prefix === "" ? k : `${prefix}.${k}`)]);
  if (s.type === "array") return shapePaths(s.items, `${prefix}[]`);
  if (s.type === "map") return shapePaths(s.values, `${prefix}{}`);
  return [];
}

/** A value that reaches `path` (objects, one-item lists, one-entry maps) and puts an unknown field there. */
function reach(path: string): unknown {
  if (path === "") return { zzUnknownField: true };
  const m = /^([A-Za-z0-9]+)(\[\]|\{\})?(?:\.(.*))?$/.exec(path);
  assert.ok(m !== null, path);
  const [, head, wrap, rest] = m;
  const inner = reach(rest ?? "");
  return { [head!]: wrap === "[]" ? [inner] : wrap === "{}" ? { k: inner } : inner };
}
function reported(path: string): string {
  const at = path.replace(/\[\]/g, "[0]").replace(/\{\}/g, ".k");
  return at === "" ? "spec.zzUnknownField" : `spec.${at}.zzUnknownField`;
}

for (const [kind, shape] of Object.entries(KINDS)) {
  test(`${kind}: the validator knows exactly the Istio API's field paths`, () => {
    const expected = apiPaths(kind).all.sort();
    const actual = shapePaths(shape).sort();
    assert.deepEqual(
      { missing: expected.filter((p) => !actual.includes(p)), extra: actual.filter((p) => !expected.includes(p)) },
      { missing: [], extra: [] },
    );
    assert.ok(expected.length > 0);
  });

  test(`${kind}: an unknown field is refused at every object in the API (${apiPaths(kind).objects.length} places)`, () => {
    for (const at of apiPaths(kind).objects) {
      const report = new Report();
      checkShape(reach(at), shape, "spec", report);
      const want = reported(at);
      assert.ok(
        report.errors.some((e) => e.path === want && e.message.startsWith('unknown field "zzUnknownField"')),
        `${kind} ${at}: expected an unknown-field error at ${want}, got ${JSON.stringify(report.errors.slice(0, 5))}`,
      );
    }
  });
}
