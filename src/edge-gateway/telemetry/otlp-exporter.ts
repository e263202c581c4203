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

/**
 * Parses `OTEL_EXPORTER_OTLP_HEADERS` (`k1=v1,k2=v2`, values percent-decoded). A malformed pair is
 * skipped with a warning naming the var and the pair's position (never its value: headers carry
 * API keys), as the OpenTelemetry specification asks of a value it cannot parse.
 */
export function parseOtlpHeaders(raw: string | undefined, warn?: (message: string) => void): Record<string, string> {
  const out: Record<string, string> = {};
  const parts = (raw ?? "").split(",");
  parts.forEach((part, i) => {
    if (part.trim() === "") return;
    const eq = part.indexOf("=");
    try {
      if (eq <= 0) throw new TypeError("no key=value");
      const name = part.slice(0, eq).trim();
      const value = decodeURIComponent(part.slice(eq + 1).trim());
      // The platform's own header validation (name token, no CR/LF in the value).
      new Headers([[name, value]]);
      out[name] = value;
    } catch {
      warn?.(`OTEL_EXPORTER_OTLP_HEADERS: pair ${i + 1} of ${parts.length} is not a valid key=value header; it is skipped`);
    }
  });
  return out;
}
