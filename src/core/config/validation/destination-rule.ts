import type {
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
} from "../kinds/destination-rule.ts";
import { checkDns1123Label, checkExportTo, checkHost, checkSelectorLabels, labelsShape, portSelectorShape, stringListShape, workloadSelectorShape } from "./common.ts";
import type { KindValidator } from "./kind-validator.ts";
import type { Report } from "./report.ts";
import { arr, bool, deprecated, duration, int, map, num, obj, oneOf, req, str, type ObjectShape } from "./shape.ts";

const loadBalancerShape = obj<LoadBalancerSettings>({
  simple: oneOf(["UNSPECIFIED", "LEAST_CONN", "RANDOM", "PASSTHROUGH", "ROUND_ROBIN", "LEAST_REQUEST"]),
  consistentHash: obj<ConsistentHashLB>({
    httpHeaderName: str(),
    httpCookie: obj<NonNullable<ConsistentHashLB["httpCookie"]>>({
      name: req(str()),
      path: str(),
      ttl: str(),
      attributes: arr(obj<{ name: string; value?: string }>({ name: req(str()), value: str() })),
    }),
    useSourceIp: bool(),
    httpQueryParameterName: str(),
    ringHash: obj<{ minimumRingSize?: number }>({ minimumRingSize: int({ min: 0 }) }),
    maglev: obj<{ tableSize?: number }>({ tableSize: int({ min: 0 }) }),
    minimumRingSize: deprecated(int({ min: 0 }), "use ringHash.minimumRingSize"),
  }),
  localityLbSetting: obj<LocalityLoadBalancerSetting>({
    distribute: arr(obj<{ from?: string; to?: Record<string, number> }>({ from: str(), to: map(int({ min: 0, max: 100 })) })),
    failover: arr(obj<{ from?: string; to?: string }>({ from: str(), to: str() })),
    failoverPriority: stringListShape,
    enabled: bool(),
  }),
  warmupDurationSecs: deprecated(duration(), "use warmup.duration"),
  warmup: obj<NonNullable<LoadBalancerSettings["warmup"]>>({ duration: req(duration()), minimumPercent: num({ min: 0, max: 100 }), aggression: num({ min: 1 }) }),
});

const connectionPoolShape = obj<ConnectionPoolSettings>({
  tcp: obj<NonNullable<ConnectionPoolSettings["tcp"]>>({
    maxConnections: int({ min: 0 }),
    connectTimeout: duration(),
    tcpKeepalive: obj<{ probes?: number; time?: string; interval?: string }>({ probes: int({ min: 0 }), time: duration(), interval: duration() }),
    maxConnectionDuration: duration(),
    idleTimeout: duration(),
  }),
  http: obj<NonNullable<ConnectionPoolSettings["http"]>>({
    http1MaxPendingRequests: int({ min: 0 }),
    http2MaxRequests: int({ min: 0 }),
    maxRequestsPerConnection: int({ min: 0 }),
    maxRetries: int({ min: 0 }),
    idleTimeout: duration(),
    h2UpgradePolicy: oneOf(["DEFAULT", "DO_NOT_UPGRADE", "UPGRADE"]),
    useClientProtocol: bool(),
    maxConcurrentStreams: int({ min: 0 }),
  }),
});

const outlierDetectionShape = obj<OutlierDetection>({
  consecutiveErrors: deprecated(int({ min: 0 }), "ignored; use consecutive5xxErrors"),
  splitExternalLocalOriginErrors: bool(),
  consecutiveLocalOriginFailures: int({ min: 0 }),
  consecutiveGatewayErrors: int({ min: 0 }),
  consecutive5xxErrors: int({ min: 0 }),
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
  tunnel: obj<NonNullable<TrafficPolicy["tunnel"]>>({ protocol: oneOf(["CONNECT", "POST"]), targetHost: req(str()), targetPort: req(int({ min: 1, max: 65535 })) }),
  proxyProtocol: obj<{ version?: "V1" | "V2" }>({ version: oneOf(["V1", "V2"]) }),
  retryBudget: obj<NonNullable<TrafficPolicy["retryBudget"]>>({ percent: num({ min: 0, max: 100 }), minRetryConcurrency: int({ min: 0 }), budgetInterval: duration() }),
});

const shape = obj<DestinationRuleSpec>({
  host: req(str()),
  trafficPolicy: trafficPolicyShape,
  subsets: arr(obj<Subset>({ name: req(str()), labels: labelsShape, trafficPolicy: trafficPolicyShape })),
  exportTo: stringListShape,
  workloadSelector: workloadSelectorShape,
});

export const destinationRuleValidator: KindValidator<DestinationRuleSpec> = {
  shape,
  check(spec, ctx) {
    const r = ctx.report;
    checkHost(spec.host, "spec.host", r, { allowWildcard: true, allowStar: false });
    checkExportTo(spec.exportTo, r);
    checkSelectorLabels(spec.workloadSelector?.matchLabels, "spec.workloadSelector.matchLabels", r);
    if (spec.trafficPolicy !== undefined) checkTrafficPolicy(spec.trafficPolicy, "spec.trafficPolicy", r);
    const names = new Map<string, number>();
    spec.subsets?.forEach((s, i) => {
      const p = `spec.subsets[${i}]`;
      checkDns1123Label(s.name, `${p}.name`, r);
      const prev = names.get(s.name);
      if (prev !== undefined) r.error(`${p}.name`, `duplicate subset name ${JSON.stringify(s.name)} (also spec.subsets[${prev}])`);
      else names.set(s.name, i);
      checkSelectorLabels(s.labels, `${p}.labels`, r);
      if (s.trafficPolicy !== undefined) checkTrafficPolicy(s.trafficPolicy, `${p}.trafficPolicy`, r);
    });
  },
};

function checkTrafficPolicy(tp: TrafficPolicy, path: string, r: Report): void {
  checkPolicyParts(tp, path, r);
  const ports = new Map<number, number>();
  tp.portLevelSettings?.forEach((pl, i) => {
    const p = `${path}.portLevelSettings[${i}]`;
    const n = pl.port?.number;
    if (n === undefined) r.error(`${p}.port.number`, "required field is missing");
    else {
      const prev = ports.get(n);
      if (prev !== undefined) r.error(`${p}.port.number`, `duplicate port ${n} (also ${path}.portLevelSettings[${prev}])`);
      else ports.set(n, i);
    }
    checkPolicyParts(pl, p, r);
  });
}

function checkPolicyParts(tp: { loadBalancer?: LoadBalancerSettings; tls?: ClientTLSSettings; connectionPool?: ConnectionPoolSettings }, path: string, r: Report): void {
  const lb = tp.loadBalancer;
  if (lb !== undefined) {
    const p = `${path}.loadBalancer`;
    if (lb.simple !== undefined && lb.consistentHash !== undefined) r.error(`${p}.consistentHash`, "simple and consistentHash are mutually exclusive");
    if (lb.simple === "LEAST_CONN") r.warn(`${p}.simple`, "deprecated: LEAST_CONN is an alias of LEAST_REQUEST");
    const ch = lb.consistentHash;
    if (ch !== undefined) {
      const keys = (["httpHeaderName", "httpCookie", "useSourceIp", "httpQueryParameterName"] as const).filter((k) => ch[k] !== undefined);
      if (keys.length !== 1) r.error(`${p}.consistentHash`, "exactly one of httpHeaderName, httpCookie, useSourceIp, httpQueryParameterName is required");
      if (ch.ringHash !== undefined && ch.maglev !== undefined) r.error(`${p}.consistentHash.maglev`, "ringHash and maglev are mutually exclusive");
    }
    const loc = lb.localityLbSetting;
    if (loc?.distribute !== undefined && loc.failover !== undefined) r.error(`${p}.localityLbSetting.failover`, "distribute and failover are mutually exclusive");
    loc?.distribute?.forEach((d, i) => {
      const total = Object.values(d.to ?? {}).reduce((a, b) => a + b, 0);
      if (total !== 100) r.error(`${p}.localityLbSetting.distribute[${i}].to`, `weights must add up to 100 (got ${total})`);
    });
  }
  const tls = tp.tls;
  if (tls?.mode === "MUTUAL" && tls.credentialName === undefined) {
    if (tls.clientCertificate === undefined) r.error(`${path}.tls.clientCertificate`, "required for MUTUAL mode without credentialName");
    if (tls.privateKey === undefined) r.error(`${path}.tls.privateKey`, "required for MUTUAL mode without credentialName");
  }
  if (tp.connectionPool !== undefined && tp.connectionPool.tcp === undefined && tp.connectionPool.http === undefined) {
    r.error(`${path}.connectionPool`, "must set tcp or http");
  }
}

