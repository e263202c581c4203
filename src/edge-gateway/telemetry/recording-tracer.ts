/**
 * A small `@opentelemetry/api` Tracer that records finished spans for OTLP export. The gateway
 * creates spans through the OpenTelemetry API only; this provider keeps them in memory per
 * request (no global state, safe in Workers isolates) so the entry can export them off the
 * response path.
 */
import {
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type AttributeValue,
  type Context,
  type Link,
  type Span,
  type SpanAttributes,
  type SpanContext,
  type SpanOptions,
  type SpanStatus,
  type TimeInput,
  type Tracer,
} from "@opentelemetry/api";
import { randomHexId } from "./trace-context.ts";

/** A finished span as the exporter sees it. */
export interface FinishedSpan {
  name: string;
  kind: SpanKind;
  context: SpanContext;
  parentSpanId?: string;
  startMs: number;
  endMs: number;
  attributes: Attributes;
  events: { name: string; timeMs: number; attributes: Attributes }[];
  status: SpanStatus;
}

function toMs(t: TimeInput | undefined, fallback: () => number): number {
  if (t === undefined) return fallback();
  if (typeof t === "number") return t;
  if (t instanceof Date) return t.getTime();
  return t[0] * 1000 + t[1] / 1e6;
}

class RecordingSpan implements Span {
  private ended = false;
  private readonly attributes: Attributes = {};
  private readonly events: FinishedSpan["events"] = [];
  private status: SpanStatus = { code: SpanStatusCode.UNSET };

  constructor(
    private name: string,
    private readonly ctx: SpanContext,
    private readonly kind: SpanKind,
    private readonly parentSpanId: string | undefined,
    private readonly startMs: number,
    private readonly now: () => number,
    private readonly sink: (s: FinishedSpan) => void,
  ) {}

  spanContext(): SpanContext {
    return this.ctx;
  }
  setAttribute(key: string, value: AttributeValue): this {
    if (!this.ended) this.attributes[key] = value;
    return this;
  }
  setAttributes(attributes: SpanAttributes): this {
    for (const [k, v] of Object.entries(attributes)) if (v !== undefined) this.setAttribute(k, v);
    return this;
  }
  addEvent(name: string, attributesOrStartTime?: SpanAttributes | TimeInput, startTime?: TimeInput): this {
    const isTime = typeof attributesOrStartTime === "number" || attributesOrStartTime instanceof Date || Array.isArray(attributesOrStartTime);
    const attributes = isTime || attributesOrStartTime === undefined ? {} : (attributesOrStartTime as SpanAttributes);
    this.events.push({ name, timeMs: toMs(isTime ? (attributesOrStartTime as TimeInput) : startTime, this.now), attributes: attributes as Attributes });
    return this;
  }
  addLink(_link: Link): this {
    return this;
  }
  addLinks(_links: Link[]): this {
    return this;
  }
  setStatus(status: SpanStatus): this {
    this.status = status;
    return this;
  }
  updateName(name: string): this {
    this.name = name;
    return this;
  }
  end(endTime?: TimeInput): void {
    if (this.ended) return;
    this.ended = true;
    this.sink({
      name: this.name,
      kind: this.kind,
      context: this.ctx,
      ...(this.parentSpanId === undefined ? {} : { parentSpanId: this.parentSpanId }),
      startMs: this.startMs,
      endMs: toMs(endTime, this.now),
      attributes: this.attributes,
      events: this.events,
      status: this.status,
    });
  }
  isRecording(): boolean {
    return !this.ended;
  }
  recordException(exception: unknown, time?: TimeInput): void {
    const message = exception instanceof Error ? exception.message : String(exception);
    this.addEvent("exception", { "exception.message": message }, time);
  }
}

/** Records the spans of one request; `spans` holds them once ended. */
export class RecordingTracer implements Tracer {
  readonly spans: FinishedSpan[] = [];

  constructor(private readonly now: () => number) {}

  startSpan(name: string, options: SpanOptions = {}, context?: Context): Span {
    const parent = context === undefined ? undefined : trace.getSpanContext(context);
    const spanCtx: SpanContext = {
      traceId: parent?.traceId ?? randomHexId(16),
      spanId: randomHexId(8),
      traceFlags: parent?.traceFlags ?? 1,
      ...(parent?.traceState === undefined ? {} : { traceState: parent.traceState }),
    };
    const span = new RecordingSpan(name, spanCtx, options.kind ?? SpanKind.INTERNAL, parent?.spanId, toMs(options.startTime, this.now), this.now, (s) => this.spans.push(s));
    if (options.attributes !== undefined) span.setAttributes(options.attributes);
    return span;
  }

  startActiveSpan<F extends (span: Span) => unknown>(name: string, ...args: unknown[]): ReturnType<F> {
    const fn = args[args.length - 1] as F;
    const options = (args.length >= 2 ? args[0] : undefined) as SpanOptions | undefined;
    const ctx = (args.length >= 3 ? args[1] : undefined) as Context | undefined;
    return fn(this.startSpan(name, options, ctx)) as ReturnType<F>;
  }
}
