/**
 * OTLP/HTTP JSON encodings (opentelemetry-proto `ExportTraceServiceRequest` and
 * `ExportMetricsServiceRequest`, JSON mapping: lowerCamelCase, hex trace/span ids,
 * 64-bit integers as decimal strings).
 */
import type { AttributeValue, Attributes } from "@opentelemetry/api";
import type { FinishedSpan } from "./recording-tracer.ts";

type AnyValue = { stringValue: string } | { boolValue: boolean } | { intValue: string } | { doubleValue: number } | { arrayValue: { values: AnyValue[] } };

export interface OtlpKeyValue {
  key: string;
  value: AnyValue;
}

function anyValue(v: AttributeValue): AnyValue {
  if (typeof v === "string") return { stringValue: v };
  if (typeof v === "boolean") return { boolValue: v };
  if (typeof v === "number") return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
  return { arrayValue: { values: (v as unknown[]).filter((x) => x !== null && x !== undefined).map((x) => anyValue(x as AttributeValue)) } };
}

export function keyValues(attrs: Attributes | Record<string, string>): OtlpKeyValue[] {
  return Object.entries(attrs)
    .filter((e): e is [string, AttributeValue] => e[1] !== undefined)
    .map(([key, value]) => ({ key, value: anyValue(value) }));
}

const nanos = (ms: number): string => (BigInt(Math.round(ms * 1000)) * 1000n).toString();

const SCOPE = { name: "strait-edge-gateway", version: "0.1.0" };

/** Resource attributes of the gateway (`service.name` etc.). */
export type ResourceAttributes = Record<string, string>;

export function encodeSpans(resource: ResourceAttributes, spans: readonly FinishedSpan[]): unknown {
  return {
    resourceSpans: [
      {
        resource: { attributes: keyValues(resource) },
        scopeSpans: [
          {
            scope: SCOPE,
            spans: spans.map((s) => ({
              traceId: s.context.traceId,
              spanId: s.context.spanId,
              ...(s.parentSpanId === undefined ? {} : { parentSpanId: s.parentSpanId }),
              ...(s.context.traceState === undefined ? {} : { traceState: s.context.traceState.serialize() }),
              name: s.name,
              // OTLP SpanKind = API SpanKind + 1 (0 is UNSPECIFIED).
              kind: s.kind + 1,
              startTimeUnixNano: nanos(s.startMs),
              endTimeUnixNano: nanos(s.endMs),
              attributes: keyValues(s.attributes),
              events: s.events.map((e) => ({ name: e.name, timeUnixNano: nanos(e.timeMs), attributes: keyValues(e.attributes) })),
              status: { code: s.status.code, ...(s.status.message === undefined ? {} : { message: s.status.message }) },
            })),
          },
        ],
      },
    ],
  };
}

/** A cumulative counter point. */
export interface SumPoint {
  attributes: Record<string, string>;
  value: number;
}

/** A cumulative explicit-bucket histogram point. */
export interface HistogramPoint {
  attributes: Record<string, string>;
  count: number;
  sum: number;
  bucketCounts: number[];
}

export interface MetricsBatch {
  startMs: number;
  nowMs: number;
  counters: { name: string; description: string; unit: string; points: SumPoint[] }[];
  histograms: { name: string; description: string; unit: string; bounds: readonly number[]; points: HistogramPoint[] }[];
}

/** AGGREGATION_TEMPORALITY_CUMULATIVE. */
const CUMULATIVE = 2;

export function encodeMetrics(resource: ResourceAttributes, batch: MetricsBatch): unknown {
  const start = nanos(batch.startMs);
  const now = nanos(batch.nowMs);
  return {
    resourceMetrics: [
      {
        resource: { attributes: keyValues(resource) },
        scopeMetrics: [
          {
            scope: SCOPE,
            metrics: [
              ...batch.counters.map((c) => ({
                name: c.name,
                description: c.description,
                unit: c.unit,
                sum: {
                  aggregationTemporality: CUMULATIVE,
                  isMonotonic: true,
                  dataPoints: c.points.map((p) => ({ attributes: keyValues(p.attributes), startTimeUnixNano: start, timeUnixNano: now, asInt: String(p.value) })),
                },
              })),
              ...batch.histograms.map((h) => ({
                name: h.name,
                description: h.description,
                unit: h.unit,
                histogram: {
                  aggregationTemporality: CUMULATIVE,
                  dataPoints: h.points.map((p) => ({
                    attributes: keyValues(p.attributes),
                    startTimeUnixNano: start,
                    timeUnixNano: now,
                    count: String(p.count),
                    sum: p.sum,
                    bucketCounts: p.bucketCounts.map(String),
                    explicitBounds: [...h.bounds],
                  })),
                },
              })),
            ],
          },
        ],
      },
    ],
  };
}
