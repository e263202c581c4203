/**
 * A small `@opentelemetry/api` Tracer that records finished spans for OTLP export. The gateway
 * creates spans through the OpenTelemetry API only; this provider keeps them in memory per
 * request (no global state, safe in Workers isolates) so the entry can export them off the
 * response path. Without an exporter the tracer is non-recording, as the API is without an SDK:
 * every span is the one invalid span (no ids, nothing recorded), and the gateway takes no part in
 * traces — the client's `traceparent` travels on unchanged (see `EdgeGateway.handle`).
 */
import {
  INVALID_SPAN_CONTEXT,
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
import { randomHexId } from "../../core/random-ids.ts";

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

// Two spans and a tracer per request: fields are `declare`d and assigned in the constructors, since
// ES2022 class fields (and parameter properties) would be defined by an initializer per construction.
class RecordingSpan implements Span {
  declare private ended: boolean;
  declare private readonly attributes: Attributes;
  declare private readonly events: FinishedSpan["events"];
  declare private status: SpanStatus;
  declare private name: string;
  declare private readonly ctx: SpanContext;
  declare private readonly kind: SpanKind;
  declare private readonly parentSpanId: string | undefined;
  declare private readonly startMs: number;
  declare private readonly tracer: RecordingTracer;

  constructor(name: string, ctx: SpanContext, kind: SpanKind, parentSpanId: string | undefined, startMs: number, tracer: RecordingTracer) {
    this.name = name;
    this.ctx = ctx;
    this.kind = kind;
    this.parentSpanId = parentSpanId;
    this.startMs = startMs;
    this.tracer = tracer;
    this.ended = !tracer.recording;
    this.attributes = {};
    this.events = [];
    this.status = { code: SpanStatusCode.UNSET };
  }

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
    if (this.ended) return this;
    this.events.push({ name, timeMs: toMs(isTime ? (attributesOrStartTime as TimeInput) : startTime, this.tracer.now), attributes: attributes as Attributes });
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
    this.tracer.spans.push({
      name: this.name,
      kind: this.kind,
      context: this.ctx,
      ...(this.parentSpanId === undefined ? {} : { parentSpanId: this.parentSpanId }),
      startMs: this.startMs,
      endMs: toMs(endTime, this.tracer.now),
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

/** The API's non-recording span with the invalid context (all-zero ids): what a tracer without an SDK returns. */
const NO_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** Records the spans of one request; `spans` holds them once ended (none when not `recording`). */
export class RecordingTracer implements Tracer {
  declare readonly spans: FinishedSpan[];
  declare readonly now: () => number;
  /** False: spans carry ids for propagation but record nothing (no exporter configured). */
  declare readonly recording: boolean;

  constructor(now: () => number, recording = true) {
    this.spans = [];
    this.now = now;
    this.recording = recording;
  }

  startSpan(name: string, options: SpanOptions = {}, context?: Context): Span {
    return this.startChild(name, options, context === undefined ? undefined : trace.getSpanContext(context));
  }

  /**
   * `startSpan` with the parent given as a span context (e.g. a remote `traceparent`, or the
   * request's server span) instead of a `Context`: the gateway's request path creates no
   * Context objects.
   */
  startChild(name: string, options: SpanOptions, parent: SpanContext | undefined): Span {
    if (!this.recording) return NO_SPAN;
    const spanCtx: SpanContext = { traceId: parent?.traceId ?? randomHexId(16), spanId: randomHexId(8), traceFlags: parent?.traceFlags ?? 1 };
    if (parent?.traceState !== undefined) spanCtx.traceState = parent.traceState;
    const span = new RecordingSpan(name, spanCtx, options.kind ?? SpanKind.INTERNAL, parent?.spanId, toMs(options.startTime, this.now), this);
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
