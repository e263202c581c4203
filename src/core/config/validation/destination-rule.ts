import type {
  BackendUtilizationLB,
  ClientTLSSettings,
  ConnectionPoolSettings,
  ConsistentHashLB,
  DestinationRuleSpec,
  LoadBalancerSettings,
  LocalityLoadBalancerSetting,
  OutlierDetection,
  PortTrafficPolicy,
  Subset,
  TrafficPolicy,
  ZoneAwareLoadBalancerSetting,
} from "../kinds/destination-rule.ts";
import { parseDurationMs } from "../duration.ts";
import { checkExportTo, checkSelectorLabels, checkWorkloadSelector, isIp, labelsShape, portSelectorShape, stringListShape, workloadSelectorShape } from "./common.ts";
import { fqdnProblem, isIstioDns1123Label, wildcardDomainProblem } from "./istio-names.ts";
import type { KindValidator } from "./kind-validator.ts";
import type { Report } from "./report.ts";
import { anyDuration, arr, bool, deprecated, duration, int, map, num, obj, oneOf, req, str, type ObjectShape } from "./shape.ts";

const backendUtilizationShape = obj<BackendUtilizationLB>({
  blackoutPeriod: anyDuration(),
  weightExpirationPeriod: anyDuration(),
  weightUpdatePeriod: anyDuration(),
  errorUtilizationPenalty: num({ min: 0 }),
  metricNamesForComputingUtilization: stringListShape,
});

const loadBalancerShape = obj<LoadBalancerSettings>({
  simple: oneOf(["UNSPECIFIED", "LEAST_CONN", "RANDOM", "PASSTHROUGH", "ROUND_ROBIN", "LEAST_REQUEST"]),
  consistentHash: obj<ConsistentHashLB>({
    httpHeaderName: str(),
    httpCookie: obj<NonNullable<ConsistentHashLB["httpCookie"]>>({
      name: req(str()),
      path: str(),
      ttl: anyDuration(),
      attributes: arr(obj<{ name: string; value?: string }>({ name: req(str()), value: str() })),
    }),
    useSourceIp: bool(),
    httpQueryParameterName: str(),
    ringHash: obj<{ minimumRingSize?: number }>({ minimumRingSize: int({ min: 0 }) }),
    maglev: obj<{ tableSize?: number }>({ tableSize: int({ min: 0 }) }),
    minimumRingSize: deprecated(int({ min: 0 }), "use ringHash.minimumRingSize"),
  }),
  backendUtilization: backendUtilizationShape,
  localityLbSetting: obj<LocalityLoadBalancerSetting>({
    distribute: arr(obj<{ from?: string; to?: Record<string, number> }>({ from: str(), to: map(int({ min: 0, max: 4294967295 })) })),
    failover: arr(obj<{ from?: string; to?: string }>({ from: str(), to: str() })),
    failoverPriority: stringListShape,
    enabled: bool(),
  }),
  zoneAwareLbSetting: obj<ZoneAwareLoadBalancerSetting>({
    enabled: bool(),
    failover: arr(obj<{ from?: string; to?: string }>({ from: str(), to: str() })),
    failoverPriority: stringListShape,
  }),
  warmupDurationSecs: deprecated(duration(), "use warmup.duration"),
  warmup: obj<NonNullable<LoadBalancerSettings["warmup"]>>({ duration: req(duration()), minimumPercent: num({ min: 0, max: 100 }), aggression: num({ min: 1 }) }),
});

/** `ConnectionPoolSettings`, shared with the Sidecar kind (ingress `connectionPool`, `inboundConnectionPool`). */
export const connectionPoolShape: ObjectShape = obj<ConnectionPoolSettings>({
  tcp: obj<NonNullable<ConnectionPoolSettings["tcp"]>>({
    maxConnections: int({ min: 0, max: 2147483647 }),
    connectTimeout: duration(),
    tcpKeepalive: obj<{ probes?: number; time?: string; interval?: string }>({ probes: int({ min: 0, max: 4294967295 }), time: duration(), interval: duration() }),
    maxConnectionDuration: duration(),
    // "0s" disables the idle timeout (validateConnectionPool skips it).
    idleTimeout: anyDuration(),
  }),
  http: obj<NonNullable<ConnectionPoolSettings["http"]>>({
    http1MaxPendingRequests: int({ min: 0, max: 2147483647 }),
    http2MaxRequests: int({ min: 0, max: 2147483647 }),
    maxRequestsPerConnection: int({ min: 0, max: 2147483647 }),
    maxRetries: int({ min: 0, max: 2147483647 }),
    idleTimeout: duration(),
    h2UpgradePolicy: oneOf(["DEFAULT", "DO_NOT_UPGRADE", "UPGRADE"]),
    useClientProtocol: bool(),
    maxConcurrentStreams: int({ min: 0, max: 2147483647 }),
    http2KeepAlive: obj<{ interval?: string; timeout?: string }>({ interval: duration(), timeout: duration() }),
  }),
});

const outlierDetectionShape = obj<OutlierDetection>({
  consecutiveErrors: deprecated(int({ min: 0 }), "outlier detection consecutive errors is deprecated, use consecutiveGatewayErrors or consecutive5xxErrors instead"),
  splitExternalLocalOriginErrors: bool(),
  consecutiveLocalOriginFailures: int({ min: 0, max: 4294967295 }),
  consecutiveGatewayErrors: int({ min: 0, max: 4294967295 }),
  consecutive5xxErrors: int({ min: 0, max: 4294967295 }),
  interval: duration(),
  baseEjectionTime: duration(),
  maxEjectionPercent: int({ min: 0, max: 100 }),
  minHealthPercent: int({ min: 0, max: 100 }),
  outlierDetectionHttpErrorCodes: arr(int({ min: 100, max: 599 })),
});

const tlsShape = obj<ClientTLSSettings>({
  mode: oneOf(["DISABLE", "SIMPLE", "MUTUAL", "ISTIO_MUTUAL"]),
  clientCertificate: str(),
  privateKey: str(),
  caCertificates: str(),
  credentialName: str(),
  subjectAltNames: stringListShape,
  sni: str(),
  insecureSkipVerify: bool(),
  caCrl: str(),
});

const trafficPolicyShape: ObjectShape = obj<TrafficPolicy>({
  loadBalancer: loadBalancerShape,
  connectionPool: connectionPoolShape,
  outlierDetection: outlierDetectionShape,
  tls: tlsShape,
  portLevelSettings: arr(
    obj<PortTrafficPolicy>({
      port: portSelectorShape,
      loadBalancer: loadBalancerShape,
      connectionPool: connectionPoolShape,
      outlierDetection: outlierDetectionShape,
      tls: tlsShape,
    }),
  ),
  tunnel: obj<NonNullable<TrafficPolicy["tunnel"]>>({ protocol: str(), targetHost: req(str()), targetPort: req(int({ min: 0, max: 4294967295 })) }),
  proxyProtocol: obj<{ version?: "V1" | "V2" }>({ version: oneOf(["V1", "V2"]) }),
  retryBudget: obj<NonNullable<TrafficPolicy["retryBudget"]>>({ percent: num({ min: 0, max: 100 }), minRetryConcurrency: int({ min: 0, max: 4294967295 }), budgetInterval: duration() }),
});

const shape = obj<DestinationRuleSpec>({
  host: req(str()),
  trafficPolicy: trafficPolicyShape,
  subsets: arr(obj<Subset>({ name: req(str()), labels: labelsShape, trafficPolicy: trafficPolicyShape })),
  exportTo: stringListShape,
  workloadSelector: workloadSelectorShape,
});

/** Istio's `ValidateDestinationRule`. */
export const destinationRuleValidator: KindValidator<DestinationRuleSpec> = {
  shape,
  check(spec, ctx) {
    const r = ctx.report;
    const hp = wildcardDomainProblem(spec.host);
    if (hp !== undefined) r.error("spec.host", hp);
    checkExportTo(spec.exportTo, r, { namespace: ctx.namespace, destinationRuleWithSelector: spec.workloadSelector !== undefined });
    checkWorkloadSelector(spec.workloadSelector, "spec.workloadSelector", r);
    if (spec.trafficPolicy !== undefined) checkTrafficPolicy(spec.trafficPolicy, "spec.trafficPolicy", r);
    const names = new Map<string, number>();
    spec.subsets?.forEach((s, i) => {
      const p = `spec.subsets[${i}]`;
      if (s.name === "") r.error(`${p}.name`, "name is required");
      else if (!isIstioDns1123Label(s.name)) r.error(`${p}.name`, `subset name is invalid: ${s.name}`);
      const prev = names.get(s.name);
      if (prev !== undefined) r.error(`${p}.name`, `duplicate subset names: ${s.name} (also spec.subsets[${prev}])`);
      else names.set(s.name, i);
      checkLabelSet(s.labels, `${p}.labels`, r);
      if (s.trafficPolicy !== undefined) checkTrafficPolicy(s.trafficPolicy, `${p}.trafficPolicy`, r);
    });
  },
};

/** labels.Instance.Validate: keys are qualified names, values label values. */
function checkLabelSet(labels: Record<string, string> | undefined, path: string, r: Report): void {
  checkSelectorLabels(labels, path, r);
}

function checkTrafficPolicy(tp: TrafficPolicy, path: string, r: Report): void {
  const parts = (["outlierDetection", "connectionPool", "loadBalancer", "tls", "portLevelSettings", "tunnel", "proxyProtocol", "retryBudget"] as const).filter(
    (k) => tp[k] !== undefined,
  );
  if (parts.length === 0) {
    r.error(path, "traffic policy must have at least one field");
    return;
  }
  if (tp.tunnel !== undefined && tp.proxyProtocol !== undefined) {
    r.error(`${path}.tunnel`, "tunnel and proxyProtocol must not be set together");
    return;
  }
  checkPolicyParts(tp, path, r);
  tp.portLevelSettings?.forEach((pl, i) => {
    const p = `${path}.portLevelSettings[${i}]`;
    if (pl.port === undefined) r.error(`${p}.port`, "portTrafficPolicy must have valid port");
    if (pl.outlierDetection === undefined && pl.connectionPool === undefined && pl.loadBalancer === undefined && pl.tls === undefined) {
      r.error(p, "port traffic policy must have at least one field");
    } else checkPolicyParts(pl, p, r);
  });
  const t = tp.tunnel;
  if (t !== undefined) {
    if (t.protocol !== undefined && t.protocol !== "" && t.protocol !== "CONNECT" && t.protocol !== "POST") r.error(`${path}.tunnel.protocol`, 'tunnel protocol must be "CONNECT" or "POST"');
    if (fqdnProblem(t.targetHost) !== undefined && !isIp(t.targetHost)) r.error(`${path}.tunnel.targetHost`, `tunnel target host must be valid FQDN or IP address (got ${JSON.stringify(t.targetHost)})`);
    if (t.targetPort < 1 || t.targetPort > 65535) r.error(`${path}.tunnel.targetPort`, `tunnel target port is invalid: port number ${t.targetPort} must be in the range 1..65535`);
  }
}

function checkPolicyParts(
  tp: { loadBalancer?: LoadBalancerSettings; tls?: ClientTLSSettings; connectionPool?: ConnectionPoolSettings; outlierDetection?: OutlierDetection },
  path: string,
  r: Report,
): void {
  const od = tp.outlierDetection;
  if (od !== undefined && od.splitExternalLocalOriginErrors !== true && (od.consecutiveLocalOriginFailures ?? 0) > 0) {
    r.error(`${path}.outlierDetection.consecutiveLocalOriginFailures`, "outlier detection consecutive local origin failures is specified, but split external local origin errors is set to false");
  }
  if (tp.connectionPool !== undefined) checkConnectionPool(tp.connectionPool, `${path}.connectionPool`, r);
  if (tp.loadBalancer !== undefined) checkLoadBalancer(tp.loadBalancer, `${path}.loadBalancer`, od, r);
  if (tp.tls !== undefined) checkClientTls(tp.tls, `${path}.tls`, r);
}

/** Istio's `validateConnectionPool` (also used by Sidecar). */
export function checkConnectionPool(cp: ConnectionPoolSettings, path: string, r: Report): void {
  if (cp.http === undefined && cp.tcp === undefined) {
    r.error(path, "connection pool must have at least one field (tcp or http)");
    return;
  }
  const http = cp.http;
  if (http?.h2UpgradePolicy === "UPGRADE" && http.useClientProtocol === true) {
    r.error(`${path}.http.useClientProtocol`, "use client protocol must not be true when H2UpgradePolicy is UPGRADE");
  }
  const idle = cp.tcp?.idleTimeout;
  if (idle !== undefined) {
    const ms = parseDurationMs(idle);
    if (ms !== undefined && ms !== 0 && ms < 1) r.error(`${path}.tcp.idleTimeout`, "duration must be greater than 1ms");
  }
}

function checkLoadBalancer(lb: LoadBalancerSettings, p: string, outlier: OutlierDetection | undefined, r: Report): void {
  const kinds = (["simple", "consistentHash", "backendUtilization"] as const).filter((k) => lb[k] !== undefined);
  if (kinds.length > 1) r.error(`${p}.${kinds[1]}`, `only one of simple, consistentHash, backendUtilization may be set (got ${kinds.join(", ")})`);
  if (lb.simple === "LEAST_CONN") r.warn(`${p}.simple`, "deprecated: LEAST_CONN is an alias of LEAST_REQUEST");
  const ch = lb.consistentHash;
  if (ch !== undefined) {
    const keys = (["httpHeaderName", "httpCookie", "useSourceIp", "httpQueryParameterName"] as const).filter((k) => ch[k] !== undefined);
    if (keys.length > 1) r.error(`${p}.consistentHash`, `only one of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName may be set (got ${keys.join(", ")})`);
    if (ch.httpCookie !== undefined && ch.httpCookie.name === "") r.error(`${p}.consistentHash.httpCookie.name`, "name required for HttpCookie");
    if (ch.ringHash !== undefined && ch.maglev !== undefined) r.error(`${p}.consistentHash.maglev`, "only one of ringHash, maglev may be set");
    if ((ch.minimumRingSize ?? 0) !== 0 && (ch.ringHash !== undefined || ch.maglev !== undefined)) {
      r.error(`${p}.consistentHash.minimumRingSize`, "only one of MinimumRingSize or Maglev/Ringhash can be specified");
    }
    const ml = ch.maglev;
    if (ml !== undefined) {
      const size = ml.tableSize ?? 0;
      if (size === 0) r.error(`${p}.consistentHash.maglev.tableSize`, "tableSize must be set for maglev");
      else if (size >= 5000011) r.error(`${p}.consistentHash.maglev.tableSize`, "tableSize must be less than 5000011 for maglev");
      else if (!isPrime(size)) r.error(`${p}.consistentHash.maglev.tableSize`, "tableSize must be a prime number for maglev");
    }
  }
  if (lb.localityLbSetting !== undefined) checkLocality(lb.localityLbSetting, `${p}.localityLbSetting`, outlier, r);
  const zone = lb.zoneAwareLbSetting;
  if (zone !== undefined) {
    if (lb.localityLbSetting !== undefined) r.error(`${p}.zoneAwareLbSetting`, "zoneAwareLbSetting and localityLbSetting are mutually exclusive");
    const topo = (zone.failoverPriority ?? []).find((l) => TOPOLOGY_LABELS.includes(l));
    if (topo !== undefined) r.error(`${p}.zoneAwareLbSetting.failoverPriority`, `topology label '${topo}' cannot be used: zone aware routing always partitions by region and zone`);
    zone.failover?.forEach((f, i) => {
      if ((f.from ?? "") === (f.to ?? "")) r.error(`${p}.zoneAwareLbSetting.failover[${i}]`, "failover settings must specify different regions");
    });
  }
  const w = lb.warmup;
  if (w !== undefined && w.minimumPercent !== undefined && w.minimumPercent > 100) r.error(`${p}.warmup.minimumPercent`, "minimumPercent value should be less than or equal to 100");
}

/** Envoy's prime check (Istio copies it for maglev table sizes). */
function isPrime(x: number): boolean {
  if (x !== 0 && x < 4) return true;
  if (x % 2 === 0) return false;
  for (let f = 3; f * f <= x; f += 2) if (x % f === 0) return false;
  return true;
}

const TOPOLOGY_LABELS = ["topology.kubernetes.io/region", "topology.kubernetes.io/zone", "topology.istio.io/subzone"];

/** agent.ValidateLocalityLbSetting. */
function checkLocality(lb: LocalityLoadBalancerSetting, p: string, outlier: OutlierDetection | undefined, r: Report): void {
  const distribute = lb.distribute ?? [];
  const failover = lb.failover ?? [];
  if (distribute.length > 0 && failover.length > 0) {
    r.error(p, "can not simultaneously specify 'distribute' and 'failover'");
    return;
  }
  if (failover.length > 0) {
    const topo = (lb.failoverPriority ?? []).find((l) => TOPOLOGY_LABELS.includes(l));
    if (topo !== undefined) {
      r.error(`${p}.failoverPriority`, `can not simultaneously set 'failover' and topology label '${topo}' in 'failover_priority'`);
      return;
    }
  }
  for (const [i, d] of distribute.entries()) {
    const weights = Object.values(d.to ?? {});
    if (weights.some((v) => v <= 0 || v > 100)) {
      r.error(`${p}.distribute[${i}].to`, "locality weight must be in range [1, 100]");
      return;
    }
    const total = weights.reduce((a, b) => a + b, 0);
    if (total !== 100) {
      r.error(`${p}.distribute[${i}].to`, `total locality weight ${total} != 100`);
      return;
    }
    const lp = localitiesProblem(Object.keys(d.to ?? {}));
    if (lp !== undefined) r.error(`${p}.distribute[${i}].to`, lp);
  }
  const sp = localitiesProblem(distribute.map((d) => d.from ?? ""));
  if (sp !== undefined) r.error(`${p}.distribute`, sp);
  if ((failover.length > 0 || (lb.failoverPriority?.length ?? 0) > 0) && outlier === undefined) {
    r.warn(p, "outlier detection policy must be provided for failover");
  }
  failover.forEach((f, i) => {
    const fp = `${p}.failover[${i}]`;
    if ((f.from ?? "") === (f.to ?? "")) r.error(fp, "locality lb failover settings must specify different regions");
    if ((f.from ?? "").includes("/") || (f.to ?? "").includes("/")) r.error(fp, "locality lb failover only specify region");
    if ((f.from ?? "").includes("*") || (f.to ?? "").includes("*")) r.error(fp, "locality lb failover region should not contain '*' wildcard");
  });
}

/** agent.validateLocalities: `region[/zone[/subzone]]`, a single trailing `*`, no overlaps. */
function localitiesProblem(localities: readonly string[]): string | undefined {
  const regions = new Map<string, Map<string, Set<string>>>();
  for (const loc of localities) {
    const stars = loc.split("*").length - 1;
    if (stars > 0 && (stars > 1 || !loc.endsWith("*"))) return `locality ${loc} wildcard '*' number can not exceed 1 and must be in the end`;
    const overlap = `locality ${loc} overlap with previous specified ones`;
    if (regions.has("*")) return overlap;
    const all = loc.split("/");
    const items = all.length > 3 ? [all[0]!, all[1]!, all.slice(2).join("/")] : all;
    if (items.some((x) => x === "")) return `locality ${loc} must not contain empty region/zone/subzone info`;
    const [region, zone, sub] = items as [string, string?, string?];
    const zones = regions.get(region);
    if (zone === undefined) {
      if (zones !== undefined) return overlap;
      regions.set(region, new Map([["*", new Set(["*"])]]));
    } else if (sub === undefined) {
      if (zones === undefined) regions.set(region, new Map([[zone, new Set(["*"])]]));
      else {
        if (zones.has("*") || zones.has(zone)) return overlap;
        zones.set(zone, new Set(["*"]));
      }
    } else if (zones === undefined) regions.set(region, new Map([[zone, new Set([sub])]]));
    else {
      if (zones.has("*")) return overlap;
      const subs = zones.get(zone);
      if (subs === undefined) zones.set(zone, new Set([sub]));
      else {
        if (subs.has("*") || subs.has(sub)) return overlap;
        subs.add(sub);
      }
    }
  }
  return undefined;
}

/** agent.ValidateTLS (client side). */
function checkClientTls(tls: ClientTLSSettings, p: string, r: Report): void {
  if (tls.insecureSkipVerify === true) {
    if (tls.mode === "SIMPLE" && (tls.caCertificates !== undefined || tls.credentialName !== undefined || tls.subjectAltNames !== undefined)) {
      r.error(`${p}.insecureSkipVerify`, "cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is set true");
    }
    if (tls.mode === "MUTUAL" && (tls.caCertificates !== undefined || tls.subjectAltNames !== undefined)) {
      r.error(`${p}.insecureSkipVerify`, "cannot specify CaCertificates or SubjectAltNames when InsecureSkipVerify is set true");
    }
  }
  if ((tls.mode === "SIMPLE" || tls.mode === "MUTUAL") && tls.credentialName !== undefined && tls.credentialName !== "") {
    if ([tls.clientCertificate, tls.caCertificates, tls.privateKey, tls.caCrl].some((v) => v !== undefined && v !== "")) {
      r.error(`${p}.credentialName`, "cannot specify client certificates or CA certificate or CA CRL If credentialName is set");
    }
    return;
  }
  if (tls.mode === "MUTUAL") {
    if ((tls.clientCertificate ?? "") === "") r.error(`${p}.clientCertificate`, "client certificate required for mutual tls");
    if ((tls.privateKey ?? "") === "") r.error(`${p}.privateKey`, "private key required for mutual tls");
  }
}
