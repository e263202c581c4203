/**
 * W3C trace context through @opentelemetry/api: `traceparent`/`tracestate` are parsed
 * and written by OpenTelemetry's own W3C propagator (@opentelemetry/core), spans come
 * from the globally registered tracer (a no-op unless the embedding process registers
 * an SDK). Each hop gets a new span id, as Envoy and ztunnel do, so the proxy shows in
 * the trace even without an exporter.
 */
import { ROOT_CONTEXT, TraceFlags, context as otelContext, trace, type Context, type Span, type TextMapGetter, type TextMapSetter } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { randomHexId } from "../../core/random-ids.ts";
import type { ProxyTracing } from "../context.ts";


type Headers = Readonly<Record<string, string | string[] | undefined>>;

const getter: TextMapGetter<Headers> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key.toLowerCase()],
};

const setter: TextMapSetter<Record<string, string>> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};

export class W3cProxyTracing implements ProxyTracing {
  readonly tracer = trace.getTracer("strait-proxy");
  private readonly propagator = new W3CTraceContextPropagator();

  extract(headers: Headers): Context {
    return this.propagator.extract(ROOT_CONTEXT, headers, getter);
  }

  startSpan(name: string, parent: Context, attributes: Record<string, string | number | boolean> = {}): { span: Span; context: Context } {
    let span = this.tracer.startSpan(name, { attributes }, parent);
    if (!span.isRecording()) {
      // No SDK: carry the trace on with a fresh span id (or start a trace when none came in).
      const parentContext = trace.getSpanContext(parent);
      span = trace.wrapSpanContext({
        traceId: parentContext?.traceId ?? randomHexId(16),
        spanId: randomHexId(8),
        traceFlags: parentContext?.traceFlags ?? TraceFlags.SAMPLED,
        ...(parentContext?.traceState === undefined ? {} : { traceState: parentContext.traceState }),
      });
    }
    return { span, context: trace.setSpan(parent, span) };
  }

  inject(context: Context, headers: Record<string, string>): Record<string, string> {
    this.propagator.inject(context, headers, setter);
    return headers;
  }

  /** Runs `fn` with `context` active (for code that reads the active context). */
  with<T>(context: Context, fn: () => T): T {
    return otelContext.with(context, fn);
  }
}
