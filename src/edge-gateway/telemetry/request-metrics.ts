/**
 * Istio's standard request metrics, aggregated in memory (per isolate / process) and exported
 * cumulatively over OTLP: `istio_requests_total`, `istio_request_duration_milliseconds`,
 * `istio_request_bytes`, `istio_response_bytes`, with Istio's label names.
 */
import type { MetricsBatch } from "./otlp-json.ts";

/** Istio's label set (values `unknown` when not known). */
export interface IstioRequestLabels {
  reporter: "source";
  source_workload: string;
  source_workload_namespace: string;
  source_principal: string;
  source_app: string;
  source_version: string;
  source_cluster: string;
  source_canonical_service: string;
  source_canonical_revision: string;
  destination_workload: string;
  destination_workload_namespace: string;
  destination_principal: string;
  destination_app: string;
  destination_version: string;
  destination_service: string;
  destination_service_name: string;
  destination_service_namespace: string;
  destination_cluster: string;
  destination_canonical_service: string;
  destination_canonical_revision: string;
  request_protocol: "http";
  response_code: string;
  grpc_response_status: string;
  response_flags: string;
  connection_security_policy: string;
}

/** Istio's default bucket bounds for the duration histogram (milliseconds). */
export const DURATION_BOUNDS_MS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000] as const;
/** Istio's default bucket bounds for the size histograms (bytes). */
export const SIZE_BOUNDS_BYTES = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000] as const;

interface Histogram {
  count: number;
  sum: number;
  buckets: number[];
}

function observe(h: Histogram, bounds: readonly number[], v: number): void {
  h.count++;
  h.sum += v;
  let i = bounds.findIndex((b) => v <= b);
  if (i < 0) i = bounds.length;
  h.buckets[i]!++;
}

const newHistogram = (bounds: readonly number[]): Histogram => ({ count: 0, sum: 0, buckets: new Array<number>(bounds.length + 1).fill(0) });

function seriesKey(l: IstioRequestLabels): string {
  return `${l.destination_service}|${l.destination_service_namespace}|${l.destination_workload}|${l.destination_workload_namespace}|${l.destination_principal}|${l.response_code}|${l.response_flags}|${l.source_workload_namespace}|${l.source_principal}`;
}

/** Most distinct label sets kept; beyond that new series are folded into one `overflow` series. */
const MAX_SERIES = 2000;

export class IstioRequestMetrics {
  private readonly series = new Map<string, { labels: IstioRequestLabels; requests: number; duration: Histogram; requestBytes: Histogram; responseBytes: Histogram }>();
  private readonly startMs: number;
  private lastExportMs: number;

  constructor(private readonly now: () => number) {
    this.startMs = now();
    this.lastExportMs = this.startMs;
  }

  record(labels: IstioRequestLabels, durationMs: number, requestBytes: number, responseBytes: number): void {
    // Only these labels vary per request on the gateway (the source side is fixed per isolate).
    let key = seriesKey(labels);
    if (!this.series.has(key) && this.series.size >= MAX_SERIES) {
      labels = { ...labels, destination_service: "overflow", destination_service_name: "overflow", destination_workload: "overflow" };
      key = seriesKey(labels);
    }
    let s = this.series.get(key);
    if (s === undefined) {
      s = { labels, requests: 0, duration: newHistogram(DURATION_BOUNDS_MS), requestBytes: newHistogram(SIZE_BOUNDS_BYTES), responseBytes: newHistogram(SIZE_BOUNDS_BYTES) };
      this.series.set(key, s);
    }
    s.requests++;
    observe(s.duration, DURATION_BOUNDS_MS, durationMs);
    observe(s.requestBytes, SIZE_BOUNDS_BYTES, requestBytes);
    observe(s.responseBytes, SIZE_BOUNDS_BYTES, responseBytes);
  }

  /** True when `intervalMs` has passed since the last export (then marks now as exported). */
  dueForExport(intervalMs: number): boolean {
    const now = this.now();
    if (this.series.size === 0 || now - this.lastExportMs < intervalMs) return false;
    this.lastExportMs = now;
    return true;
  }

  batch(): MetricsBatch {
    const all = [...this.series.values()];
    const attrs = (l: IstioRequestLabels) => ({ ...l }) as Record<string, string>;
    const hist = (pick: (s: (typeof all)[number]) => Histogram) => all.map((s) => ({ attributes: attrs(s.labels), count: pick(s).count, sum: pick(s).sum, bucketCounts: [...pick(s).buckets] }));
    return {
      startMs: this.startMs,
      nowMs: this.now(),
      counters: [{ name: "istio_requests_total", description: "Requests handled by the Strait edge gateway", unit: "1", points: all.map((s) => ({ attributes: attrs(s.labels), value: s.requests })) }],
      histograms: [
        { name: "istio_request_duration_milliseconds", description: "Request duration", unit: "ms", bounds: DURATION_BOUNDS_MS, points: hist((s) => s.duration) },
        { name: "istio_request_bytes", description: "Request body size", unit: "By", bounds: SIZE_BOUNDS_BYTES, points: hist((s) => s.requestBytes) },
        { name: "istio_response_bytes", description: "Response body size", unit: "By", bounds: SIZE_BOUNDS_BYTES, points: hist((s) => s.responseBytes) },
      ],
    };
  }
}
