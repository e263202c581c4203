/**
 * Per-gateway telemetry state (isolate / process lifetime): request metrics, the span queue and
 * the OTLP exporter, plus what one request reports when it finishes (spans, metrics, access log).
 * Spans and metrics leave in batches (see span-batch.ts), never one export per request.
 */
import { OtlpExporter, parseOtlpHeaders } from "../telemetry/otlp-exporter.ts";
import { IstioRequestMetrics } from "../telemetry/request-metrics.ts";
import type { FinishedSpan } from "../telemetry/recording-tracer.ts";
import { SpanBatch } from "../telemetry/span-batch.ts";
import { parseNumberVar } from "../../core/env-vars.ts";

export interface TelemetrySettings {
  /** `OTEL_EXPORTER_OTLP_ENDPOINT`; no export without it. */
  otlpEndpoint?: string;
  /** `OTEL_EXPORTER_OTLP_HEADERS`. */
  otlpHeaders?: string;
  /** `OTEL_METRIC_EXPORT_INTERVAL` (ms), default 10000; 0 exports after every request. */
  metricExportIntervalMs?: number;
  /** `OTEL_SERVICE_NAME`, default `strait-edge-gateway`. */
  serviceName?: string;
  /** Access log on (default) or off (`ACCESS_LOG=off`). */
  accessLog?: boolean;
  /** `OTEL_BSP_SCHEDULE_DELAY` (ms), default 5000; 0 exports spans after every request. */
  spanExportDelayMs?: number;
  /** `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, default 512. */
  spanBatchSize?: number;
  /** `OTEL_BSP_MAX_QUEUE_SIZE`, default 2048 (more spans waiting are dropped and counted). */
  spanQueueSize?: number;
}

export class GatewayTelemetry {
  readonly metrics: IstioRequestMetrics;
  private readonly exporter: OtlpExporter | undefined;
  private readonly interval: number;
  private readonly spans: SpanBatch;
  readonly accessLogOn: boolean;
  /**
   * Something reads a finished request: its access-log line or an export (spans, metrics). When
   * false the gateway skips the end time, the sizes and the body's counting stream.
   */
  readonly observing: boolean;

  constructor(settings: TelemetrySettings, now: () => number, fetch: (r: Request) => Promise<Response>) {
    this.metrics = new IstioRequestMetrics(now);
    this.spans = new SpanBatch(
      {
        ...(settings.spanExportDelayMs === undefined ? {} : { scheduledDelayMs: settings.spanExportDelayMs }),
        ...(settings.spanBatchSize === undefined ? {} : { maxExportBatchSize: settings.spanBatchSize }),
        ...(settings.spanQueueSize === undefined ? {} : { maxQueueSize: settings.spanQueueSize }),
      },
      now,
    );
    this.interval = settings.metricExportIntervalMs ?? 10_000;
    this.accessLogOn = settings.accessLog ?? true;
    this.exporter =
      settings.otlpEndpoint === undefined || settings.otlpEndpoint === ""
        ? undefined
        : new OtlpExporter({
            endpoint: settings.otlpEndpoint,
            fetch,
            headers: parseOtlpHeaders(settings.otlpHeaders),
            resource: { "service.name": settings.serviceName ?? "strait-edge-gateway", "service.namespace": "strait", "service.instance.id": crypto.randomUUID(), "telemetry.sdk.language": "webjs", "telemetry.sdk.name": "strait" },
          });
    this.observing = this.accessLogOn || this.exporter !== undefined;
  }

  get exporting(): boolean {
    return this.exporter !== undefined;
  }

  /**
   * Queues one finished request's spans and returns the export work that is due (a full span
   * batch, spans or metrics whose interval has passed), or undefined when nothing is; run it
   * through `waitUntil`.
   */
  flush(spans: readonly FinishedSpan[]): Promise<void> | undefined {
    if (this.exporter === undefined) return undefined;
    this.spans.add(spans);
    let jobs: Promise<void>[] | undefined;
    for (let b = this.spans.take(); b !== undefined; b = this.spans.take()) {
      if (b.dropped > 0) console.warn(`OTLP span queue full: dropped ${b.dropped} spans`);
      (jobs ??= []).push(this.exporter.exportSpans(b.spans));
    }
    if (this.metrics.dueForExport(this.interval)) (jobs ??= []).push(this.exporter.exportMetrics(this.metrics));
    return jobs === undefined ? undefined : Promise.all(jobs).then(() => undefined);
  }
}

/**
 * Telemetry settings from the environment. The `OTEL_*` vars follow the OpenTelemetry
 * specification (Configuration, Environment Variable Specification): empty means unset, and a
 * value that cannot be parsed is a warning naming the var and the default is used (it never
 * stops the gateway). Called once per isolate (Workers) or process (Deno), so each warning is
 * logged once. `ACCESS_LOG` is Strait's own var (`on` or `off`): gateway-settings.ts refuses any
 * other value; here anything but `off` keeps the log on.
 */
export function telemetrySettingsFrom(env: Record<string, unknown>, warn: (message: string) => void = (m) => console.warn(m)): TelemetrySettings {
  const s = (k: string) => (typeof env[k] === "string" && (env[k] as string).trim() !== "" ? (env[k] as string) : undefined);
  const num = (name: string, min: number): number | undefined => {
    const r = parseNumberVar(s(name), { name, fallback: Number.NaN, min, max: Number.MAX_SAFE_INTEGER, integer: true });
    if (r.ok) return Number.isNaN(r.value) ? undefined : r.value;
    warn(`${name}: ${r.why}; using the OpenTelemetry default`);
    return undefined;
  };
  const endpoint = otlpEndpoint(s("OTEL_EXPORTER_OTLP_ENDPOINT"), warn);
  const headers = s("OTEL_EXPORTER_OTLP_HEADERS");
  const interval = num("OTEL_METRIC_EXPORT_INTERVAL", 0);
  const delay = num("OTEL_BSP_SCHEDULE_DELAY", 0);
  const batch = num("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 1);
  const queue = num("OTEL_BSP_MAX_QUEUE_SIZE", 1);
  if (headers !== undefined) parseOtlpHeaders(headers, warn);
  return {
    ...(endpoint === undefined ? {} : { otlpEndpoint: endpoint }),
    ...(headers === undefined ? {} : { otlpHeaders: headers }),
    ...(interval === undefined ? {} : { metricExportIntervalMs: interval }),
    ...(s("OTEL_SERVICE_NAME") === undefined ? {} : { serviceName: s("OTEL_SERVICE_NAME")! }),
    accessLog: switchWord(s("ACCESS_LOG")) !== "off",
    ...(delay === undefined ? {} : { spanExportDelayMs: delay }),
    ...(batch === undefined ? {} : { spanBatchSize: batch }),
    ...(queue === undefined ? {} : { spanQueueSize: queue }),
  };
}

/**
 * A switch var (ACCESS_LOG, RESPONSE_REQUEST_ID) in any case, and the usual spellings of a switch (`true`/`false`, `1`/`0`) as `on`/`off`,
 * so a value that used to mean "on" does not stop the gateway; anything else stays as written
 * (gateway-settings.ts refuses it).
 */
export function switchWord(raw: string | undefined): string | undefined {
  const word = raw?.trim().toLowerCase();
  if (word === "on" || word === "true" || word === "1") return "on";
  if (word === "off" || word === "false" || word === "0") return "off";
  return raw;
}

/** `OTEL_EXPORTER_OTLP_ENDPOINT` when it is an http(s) URL; otherwise a warning and no export (the spec's default for us). */
function otlpEndpoint(raw: string | undefined, warn: (message: string) => void): string | undefined {
  if (raw === undefined) return undefined;
  const url = URL.canParse(raw.trim()) ? new URL(raw.trim()) : undefined;
  if (url !== undefined && (url.protocol === "http:" || url.protocol === "https:")) return raw.trim();
  // Not quoted back: an endpoint URL may carry credentials.
  warn("OTEL_EXPORTER_OTLP_ENDPOINT: must be an http:// or https:// URL; traces and metrics are not exported");
  return undefined;
}
