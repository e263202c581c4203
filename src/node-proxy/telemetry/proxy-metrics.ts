/**
 * Istio's standard metrics, recorded by the data plane and served on 15020
 * `/stats/prometheus` (prom-client). Names, labels and buckets follow Istio's
 * (istio.io "Istio Standard Metrics"); a proxy reports as `destination` on inbound
 * and `source` on outbound, like Envoy and ztunnel.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { ProxyMetrics, RequestMetricLabels, TcpMetricLabels } from "../context.ts";

const REQUEST_LABELS = [
  "reporter",
  "source_workload",
  "source_principal",
  "destination_service",
  "destination_principal",
  "response_code",
  "response_flags",
  "connection_security_policy",
] as const;
const TCP_LABELS = REQUEST_LABELS.filter((l) => l !== "response_code");

/** Istio's duration buckets (ms). */
const DURATION_BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];
/** Istio's size buckets (bytes): 1 to 10^9 by powers of 10. */
const SIZE_BUCKETS = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000];

type LabelValues = Record<string, string>;

/** Prometheus label values: any string is legal, but keep them bounded and free of NUL. */
function clean(v: string | undefined): string {
  if (v === undefined || v === "") return "unknown";
  if (v.length > 256) return v.slice(0, 256);
  // eslint-disable-next-line no-control-regex
  return v.includes("\u0000") ? v.replace(/\u0000/g, "") : v;
}

/** Cache key of a label set: the cleaned values (which never contain NUL) joined with NUL. */
function keyOf(values: readonly (string | undefined)[]): string {
  let k = "";
  for (const v of values) k += `${clean(v)}\u0000`;
  return k;
}

/** Bound on cached label sets per metric family (label cardinality of a node is far lower). */
const MAX_CACHED_LABEL_SETS = 10_000;

/** prom-client children for one request label set: `labels()` is called once per set, not per request. */
interface RequestChildren {
  requests: Counter.Internal;
  duration: Histogram.Internal<string>;
  requestBytes: Histogram.Internal<string>;
  responseBytes: Histogram.Internal<string>;
}

interface TcpChildren {
  opened: Counter.Internal;
  closed: Counter.Internal;
  sent: Counter.Internal;
  received: Counter.Internal;
}

function remember<V>(cache: Map<string, V>, key: string, value: V): V {
  if (cache.size >= MAX_CACHED_LABEL_SETS) cache.clear();
  cache.set(key, value);
  return value;
}

export class PrometheusProxyMetrics implements ProxyMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<string>;
  private readonly duration: Histogram<string>;
  private readonly requestBytes: Histogram<string>;
  private readonly responseBytes: Histogram<string>;
  private readonly tcpOpenedTotal: Counter<string>;
  private readonly tcpClosedTotal: Counter<string>;
  private readonly tcpSent: Counter<string>;
  private readonly tcpReceived: Counter<string>;
  private readonly extra = new Map<string, { counter: Counter<string>; labels: readonly string[]; children: Map<string, Counter.Internal> }>();
  private readonly requestChildren = new Map<string, RequestChildren>();
  private readonly tcpChildren = new Map<string, TcpChildren>();

  constructor(o: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    const labelNames = [...REQUEST_LABELS];
    this.requests = new Counter({ name: "istio_requests_total", help: "Requests processed by the proxy", labelNames, registers });
    this.duration = new Histogram({ name: "istio_request_duration_milliseconds", help: "Request duration in milliseconds", labelNames, buckets: DURATION_BUCKETS, registers });
    this.requestBytes = new Histogram({ name: "istio_request_bytes", help: "Request body sizes in bytes", labelNames, buckets: SIZE_BUCKETS, registers });
    this.responseBytes = new Histogram({ name: "istio_response_bytes", help: "Response body sizes in bytes", labelNames, buckets: SIZE_BUCKETS, registers });
    const tcp = [...TCP_LABELS];
    this.tcpOpenedTotal = new Counter({ name: "istio_tcp_connections_opened_total", help: "TCP connections opened", labelNames: tcp, registers });
    this.tcpClosedTotal = new Counter({ name: "istio_tcp_connections_closed_total", help: "TCP connections closed", labelNames: tcp, registers });
    this.tcpSent = new Counter({ name: "istio_tcp_sent_bytes_total", help: "Bytes sent during TCP connections (response direction)", labelNames: tcp, registers });
    this.tcpReceived = new Counter({ name: "istio_tcp_received_bytes_total", help: "Bytes received during TCP connections (request direction)", labelNames: tcp, registers });
    // Two process figures (RSS and CPU) instead of prom-client's default set, whose
    // `nodejs_active_*_total` gauges fail promtool's lint (a gauge must not end in _total).
    if (o.processMetrics !== false) {
      new Gauge({
        name: "process_resident_memory_bytes",
        help: "Resident memory size in bytes",
        registers,
        collect() {
          this.set(process.memoryUsage.rss());
        },
      });
      new Gauge({
        name: "process_cpu_seconds",
        help: "User and system CPU time spent, in seconds (cumulative)",
        registers,
        collect() {
          const u = process.cpuUsage();
          this.set((u.user + u.system) / 1e6);
        },
      });
    }
  }

  private requestLabels(l: RequestMetricLabels): LabelValues {
    const out: LabelValues = {};
    for (const k of REQUEST_LABELS) out[k] = clean(l[k]);
    return out;
  }

  private tcpLabels(l: TcpMetricLabels): LabelValues {
    const out: LabelValues = {};
    for (const k of TCP_LABELS) out[k] = clean(l[k as keyof TcpMetricLabels] as string | undefined);
    return out;
  }

  private requestChildrenOf(labels: RequestMetricLabels): RequestChildren {
    const key = keyOf([
      labels.reporter,
      labels.source_workload,
      labels.source_principal,
      labels.destination_service,
      labels.destination_principal,
      labels.response_code,
      labels.response_flags,
      labels.connection_security_policy,
    ]);
    const hit = this.requestChildren.get(key);
    if (hit !== undefined) return hit;
    const l = this.requestLabels(labels);
    return remember(this.requestChildren, key, {
      requests: this.requests.labels(l),
      duration: this.duration.labels(l),
      requestBytes: this.requestBytes.labels(l),
      responseBytes: this.responseBytes.labels(l),
    });
  }

  private tcpChildrenOf(labels: TcpMetricLabels): TcpChildren {
    const key = keyOf(TCP_LABELS.map((k) => labels[k as keyof TcpMetricLabels] as string | undefined));
    const hit = this.tcpChildren.get(key);
    if (hit !== undefined) return hit;
    const l = this.tcpLabels(labels);
    return remember(this.tcpChildren, key, {
      opened: this.tcpOpenedTotal.labels(l),
      closed: this.tcpClosedTotal.labels(l),
      sent: this.tcpSent.labels(l),
      received: this.tcpReceived.labels(l),
    });
  }

  request(labels: RequestMetricLabels, sample: { durationMs: number; requestBytes: number; responseBytes: number }): void {
    const c = this.requestChildrenOf(labels);
    c.requests.inc();
    c.duration.observe(Math.max(0, sample.durationMs));
    c.requestBytes.observe(Math.max(0, sample.requestBytes));
    c.responseBytes.observe(Math.max(0, sample.responseBytes));
  }

  tcpOpened(labels: TcpMetricLabels): void {
    this.tcpChildrenOf(labels).opened.inc();
  }

  tcpClosed(labels: TcpMetricLabels): void {
    this.tcpChildrenOf(labels).closed.inc();
  }

  tcpBytes(labels: TcpMetricLabels, sent: number, received: number): void {
    const c = this.tcpChildrenOf(labels);
    if (sent > 0) c.sent.inc(sent);
    if (received > 0) c.received.inc(received);
  }

  /**
   * `strait_proxy_<name>_total`. The label names are fixed by the first call for a name;
   * later calls fill missing labels with "" and drop unknown ones (a metric's label set cannot change).
   */
  count(name: string, labels: Record<string, string> = {}, by = 1): void {
    let entry = this.extra.get(name);
    if (entry === undefined) {
      if (!/^[a-z][a-z0-9_]{0,63}$/.test(name)) throw new TypeError(`metric name ${JSON.stringify(name)} must be lowercase snake_case`);
      const labelNames = Object.keys(labels).filter((k) => /^[a-z_][a-z0-9_]*$/.test(k)).sort();
      entry = { counter: new Counter({ name: `strait_proxy_${name}_total`, help: `strait-proxy ${name.replace(/_/g, " ")}`, labelNames, registers: [this.registry] }), labels: labelNames, children: new Map() };
      this.extra.set(name, entry);
    }
    let key = "";
    for (const k of entry.labels) key += `${clean(labels[k])}\u0000`;
    let child = entry.children.get(key);
    if (child === undefined) {
      const values: LabelValues = {};
      for (const k of entry.labels) values[k] = clean(labels[k]);
      child = remember(entry.children, key, entry.counter.labels(values));
    }
    child.inc(by);
  }

  /** The exposition text for /stats/prometheus. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
