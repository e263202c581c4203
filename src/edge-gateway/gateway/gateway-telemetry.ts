/**
 * Per-gateway telemetry state (isolate / process lifetime): request metrics and the OTLP
 * exporter, plus what one request reports when it finishes (spans, metrics, access log).
 */
import { OtlpExporter, parseOtlpHeaders } from "../telemetry/otlp-exporter.ts";
import { IstioRequestMetrics } from "../telemetry/request-metrics.ts";
import type { FinishedSpan } from "../telemetry/recording-tracer.ts";

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
}

export class GatewayTelemetry {
  readonly metrics: IstioRequestMetrics;
  private readonly exporter: OtlpExporter | undefined;
  private readonly interval: number;
  readonly accessLogOn: boolean;

  constructor(settings: TelemetrySettings, now: () => number, fetch: (r: Request) => Promise<Response>) {
    this.metrics = new IstioRequestMetrics(now);
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
  }

  get exporting(): boolean {
    return this.exporter !== undefined;
  }

  /** Export work for one finished request (spans now, metrics when the interval has passed); run it through `waitUntil`. */
  flush(spans: readonly FinishedSpan[]): Promise<void> | undefined {
    if (this.exporter === undefined) return undefined;
    const jobs = [this.exporter.exportSpans(spans)];
    if (this.metrics.dueForExport(this.interval)) jobs.push(this.exporter.exportMetrics(this.metrics));
    return Promise.all(jobs).then(() => undefined);
  }
}

export function telemetrySettingsFrom(env: Record<string, unknown>): TelemetrySettings {
  const s = (k: string) => (typeof env[k] === "string" ? (env[k] as string) : undefined);
  const interval = s("OTEL_METRIC_EXPORT_INTERVAL");
  const n = interval === undefined ? Number.NaN : Number(interval);
  return {
    ...(s("OTEL_EXPORTER_OTLP_ENDPOINT") === undefined ? {} : { otlpEndpoint: s("OTEL_EXPORTER_OTLP_ENDPOINT")! }),
    ...(s("OTEL_EXPORTER_OTLP_HEADERS") === undefined ? {} : { otlpHeaders: s("OTEL_EXPORTER_OTLP_HEADERS")! }),
    ...(Number.isFinite(n) && n >= 0 ? { metricExportIntervalMs: n } : {}),
    ...(s("OTEL_SERVICE_NAME") === undefined ? {} : { serviceName: s("OTEL_SERVICE_NAME")! }),
    accessLog: s("ACCESS_LOG") !== "off",
  };
}
