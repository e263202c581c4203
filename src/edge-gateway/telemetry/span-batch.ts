/**
 * The span queue between requests and the OTLP exporter, as OpenTelemetry's BatchSpanProcessor
 * does it: finished spans wait in a bounded queue (spans beyond `maxQueueSize` are dropped and
 * counted) and leave in batches of at most `maxExportBatchSize`, when a batch is full or
 * `scheduledDelayMs` has passed since the last export. One export carries many requests' spans,
 * so telemetry never doubles the gateway's outbound calls. Workers have no timer that outlives
 * a request, so the check runs when a request finishes (its export goes through `waitUntil`).
 */
import type { FinishedSpan } from "./recording-tracer.ts";

export interface SpanBatchOptions {
  /** `OTEL_BSP_MAX_QUEUE_SIZE`, default 2048. */
  maxQueueSize?: number;
  /** `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, default 512. */
  maxExportBatchSize?: number;
  /** `OTEL_BSP_SCHEDULE_DELAY` (ms), default 5000; 0 exports after every request. */
  scheduledDelayMs?: number;
}

export class SpanBatch {
  private queue: FinishedSpan[] = [];
  private droppedSinceExport = 0;
  private lastExportMs: number;
  readonly maxQueueSize: number;
  readonly maxExportBatchSize: number;
  readonly scheduledDelayMs: number;

  constructor(
    o: SpanBatchOptions,
    private readonly now: () => number,
  ) {
    this.maxQueueSize = Math.max(1, o.maxQueueSize ?? 2048);
    this.maxExportBatchSize = Math.min(this.maxQueueSize, Math.max(1, o.maxExportBatchSize ?? 512));
    this.scheduledDelayMs = Math.max(0, o.scheduledDelayMs ?? 5000);
    this.lastExportMs = now();
  }

  /** Spans waiting for export. */
  get size(): number {
    return this.queue.length;
  }

  /** Queues finished spans; what does not fit is dropped and reported with the next batch. */
  add(spans: readonly FinishedSpan[]): void {
    const room = this.maxQueueSize - this.queue.length;
    if (spans.length <= room) {
      for (const s of spans) this.queue.push(s);
      return;
    }
    for (let i = 0; i < room; i++) this.queue.push(spans[i]!);
    this.droppedSinceExport += spans.length - Math.max(0, room);
  }

  /**
   * The next batch to export, or undefined when none is due: a full batch is always due, a
   * partial one when the delay has passed since the last export. Call until undefined.
   */
  take(): { spans: FinishedSpan[]; dropped: number } | undefined {
    if (this.queue.length === 0) return undefined;
    const full = this.queue.length >= this.maxExportBatchSize;
    const now = this.now();
    if (!full && now - this.lastExportMs < this.scheduledDelayMs) return undefined;
    this.lastExportMs = now;
    const spans = this.queue.length <= this.maxExportBatchSize ? this.queue : this.queue.slice(0, this.maxExportBatchSize);
    this.queue = spans === this.queue ? [] : this.queue.slice(this.maxExportBatchSize);
    const dropped = this.droppedSinceExport;
    this.droppedSinceExport = 0;
    return { spans, dropped };
  }
}
