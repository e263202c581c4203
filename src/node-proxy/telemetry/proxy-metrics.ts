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
  // eslint-disable-next-line no-control-regex
  return v.length > 256 ? v.slice(0, 256) : v.replace(/\u0000/g, "");
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
  private readonly extra = new Map<string, { counter: Counter<string>; labels: readonly string[] }>();

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

  request(labels: RequestMetricLabels, sample: { durationMs: number; requestBytes: number; responseBytes: number }): void {
    const l = this.requestLabels(labels);
    this.requests.inc(l);
    this.duration.observe(l, Math.max(0, sample.durationMs));
    this.requestBytes.observe(l, Math.max(0, sample.requestBytes));
    this.responseBytes.observe(l, Math.max(0, sample.responseBytes));
  }

  tcpOpened(labels: TcpMetricLabels): void {
    this.tcpOpenedTotal.inc(this.tcpLabels(labels));
  }

  tcpClosed(labels: TcpMetricLabels): void {
    this.tcpClosedTotal.inc(this.tcpLabels(labels));
  }

  tcpBytes(labels: TcpMetricLabels, sent: number, received: number): void {
    const l = this.tcpLabels(labels);
    if (sent > 0) this.tcpSent.inc(l, sent);
    if (received > 0) this.tcpReceived.inc(l, received);
  }

  /**
   * `strait_proxy_<name>_total`. The label names are fixed by the first call for a name;
   * later calls fill missing labels with "" and drop unknown ones (a metric's label set cannot change).
   */
  count(name: string, labels: Record<string, string> = {}, by = 1): void {
    if (!/^[a-z][a-z0-9_]{0,63}$/.test(name)) throw new TypeError(`metric name ${JSON.stringify(name)} must be lowercase snake_case`);
    let entry = this.extra.get(name);
    if (entry === undefined) {
      const labelNames = Object.keys(labels).filter((k) => /^[a-z_][a-z0-9_]*$/.test(k)).sort();
      entry = { counter: new Counter({ name: `strait_proxy_${name}_total`, help: `strait-proxy ${name.replace(/_/g, " ")}`, labelNames, registers: [this.registry] }), labels: labelNames };
      this.extra.set(name, entry);
    }
    const values: LabelValues = {};
    for (const k of entry.labels) values[k] = clean(labels[k]);
    entry.counter.inc(values, by);
  }

  /** The exposition text for /stats/prometheus. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
