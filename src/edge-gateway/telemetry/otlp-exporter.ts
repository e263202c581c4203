/**
 * OTLP/HTTP JSON export to `OTEL_EXPORTER_OTLP_ENDPOINT` (`<endpoint>/v1/traces`, `/v1/metrics`).
 * Export runs off the response path (the entry hands the promise to `waitUntil`); failures are
 * logged once per kind and never affect requests.
 */
import { encodeMetrics, encodeSpans, type ResourceAttributes } from "./otlp-json.ts";
import type { FinishedSpan } from "./recording-tracer.ts";
import type { IstioRequestMetrics } from "./request-metrics.ts";

export interface OtlpExporterOptions {
  /** Base URL, e.g. `http://127.0.0.1:4318`. */
  endpoint: string;
  fetch: (request: Request) => Promise<Response>;
  resource: ResourceAttributes;
  /** Extra headers (OTEL_EXPORTER_OTLP_HEADERS), e.g. an API key. */
  headers?: Record<string, string>;
  /** Export timeout (default 10 s). */
  timeoutMs?: number;
}

export class OtlpExporter {
  private readonly base: string;
  constructor(private readonly o: OtlpExporterOptions) {
    this.base = o.endpoint.replace(/\/+$/, "");
  }

  exportSpans(spans: readonly FinishedSpan[]): Promise<void> {
    if (spans.length === 0) return Promise.resolve();
    return this.post("/v1/traces", encodeSpans(this.o.resource, spans));
  }

  exportMetrics(metrics: IstioRequestMetrics): Promise<void> {
    return this.post("/v1/metrics", encodeMetrics(this.o.resource, metrics.batch()));
  }

  private async post(path: string, body: unknown): Promise<void> {
    try {
      const res = await this.o.fetch(
        new Request(`${this.base}${path}`, {
          method: "POST",
          headers: { "content-type": "application/json", ...this.o.headers },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(this.o.timeoutMs ?? 10_000),
        }),
      );
      await res.body?.cancel();
      if (!res.ok) console.warn(`OTLP export to ${path} answered ${res.status}`);
    } catch (err) {
      console.warn(`OTLP export to ${path} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}

/** Parses `OTEL_EXPORTER_OTLP_HEADERS` (`k1=v1,k2=v2`, values percent-decoded). */
export function parseOtlpHeaders(raw: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (raw ?? "").split(",")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    try {
      out[part.slice(0, eq).trim()] = decodeURIComponent(part.slice(eq + 1).trim());
    } catch {
      // A malformed pair is skipped rather than failing the gateway.
    }
  }
  return out;
}
