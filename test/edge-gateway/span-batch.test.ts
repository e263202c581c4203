/**
 * The gateway's span queue and its OTLP export, against a real local OTLP/HTTP collector: spans
 * of many requests leave in one export (never one export per request), a full batch leaves at
 * once, the delay flushes a partial batch, and the queue is bounded (drops are counted).
 */
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SpanKind } from "@opentelemetry/api";
import { GatewayTelemetry } from "../../src/edge-gateway/gateway/gateway-telemetry.ts";
import { RecordingTracer, type FinishedSpan } from "../../src/edge-gateway/telemetry/recording-tracer.ts";
import { SpanBatch } from "../../src/edge-gateway/telemetry/span-batch.ts";

let collector: Server;
let endpoint: string;
const exports: { spans: number; traceIds: Set<string> }[] = [];

before(async () => {
  collector = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.url === "/v1/traces") {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { resourceSpans: { scopeSpans: { spans: { traceId: string }[] }[] }[] };
        const spans = body.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
        exports.push({ spans: spans.length, traceIds: new Set(spans.map((s) => s.traceId)) });
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((r) => collector.listen(0, "127.0.0.1", r));
  endpoint = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
});

after(async () => {
  collector.closeAllConnections();
  await new Promise<void>((r) => collector.close(() => r()));
});

/** The spans of one gateway request: a server span and one client span, as the gateway records them. */
function requestSpans(now: () => number): readonly FinishedSpan[] {
  const tracer = new RecordingTracer(now);
  const server = tracer.startChild("bench.example.com/x", { kind: SpanKind.SERVER }, undefined);
  tracer.startChild("GET upstream", { kind: SpanKind.CLIENT }, server.spanContext()).end();
  server.end();
  return tracer.spans;
}

test("spans of many requests leave in one OTLP export once the delay has passed, not one export per request", async () => {
  exports.length = 0;
  let clock = 1_000;
  const now = () => clock;
  const telemetry = new GatewayTelemetry({ otlpEndpoint: endpoint, spanExportDelayMs: 5_000, metricExportIntervalMs: 3_600_000 }, now, (r) => fetch(r));
  const jobs: Promise<void>[] = [];
  for (let i = 0; i < 10; i++) {
    clock += 100;
    const job = telemetry.flush(requestSpans(now));
    if (job !== undefined) jobs.push(job);
  }
  assert.equal(jobs.length, 0, "nothing is exported before the delay");
  clock += 5_000;
  const job = telemetry.flush(requestSpans(now));
  assert.ok(job !== undefined, "the delay passed: the queue leaves");
  await job;
  assert.equal(exports.length, 1);
  assert.equal(exports[0]!.spans, 22);
  assert.equal(exports[0]!.traceIds.size, 11, "one export carries eleven requests' traces");
});

test("a full batch leaves at once, in batches of at most OTEL_BSP_MAX_EXPORT_BATCH_SIZE", async () => {
  exports.length = 0;
  const now = () => 0;
  const telemetry = new GatewayTelemetry({ otlpEndpoint: endpoint, spanExportDelayMs: 60_000, spanBatchSize: 4, metricExportIntervalMs: 3_600_000 }, now, (r) => fetch(r));
  assert.equal(telemetry.flush(requestSpans(now)), undefined);
  const job = telemetry.flush(requestSpans(now));
  assert.ok(job !== undefined, "4 spans queued: a full batch");
  await job;
  assert.deepEqual(exports.map((e) => e.spans), [4]);
});

test("the queue is bounded: spans beyond OTEL_BSP_MAX_QUEUE_SIZE are dropped and counted", () => {
  let clock = 0;
  const now = () => clock;
  const batch = new SpanBatch({ maxQueueSize: 5, maxExportBatchSize: 4, scheduledDelayMs: 1_000 }, now);
  batch.add(requestSpans(now));
  assert.equal(batch.take(), undefined, "2 spans, not a full batch, delay not passed");
  for (let i = 0; i < 3; i++) batch.add(requestSpans(now));
  assert.equal(batch.size, 5, "8 spans offered, 5 kept");
  const full = batch.take();
  assert.equal(full?.spans.length, 4, "a full batch leaves at once");
  assert.equal(full?.dropped, 3);
  assert.equal(batch.take(), undefined, "one span left, delay not passed");
  clock = 1_000;
  const rest = batch.take();
  assert.equal(rest?.spans.length, 1);
  assert.equal(rest?.dropped, 0);
  assert.equal(batch.size, 0);
});

test("telemetry settings read the OpenTelemetry batch variables", async () => {
  const { telemetrySettingsFrom } = await import("../../src/edge-gateway/gateway/gateway-telemetry.ts");
  assert.deepEqual(
    { ...telemetrySettingsFrom({ OTEL_BSP_SCHEDULE_DELAY: "250", OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "64", OTEL_BSP_MAX_QUEUE_SIZE: "128" }) },
    { accessLog: true, spanExportDelayMs: 250, spanBatchSize: 64, spanQueueSize: 128 },
  );
  assert.deepEqual({ ...telemetrySettingsFrom({ OTEL_BSP_SCHEDULE_DELAY: "soon", OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "0" }) }, { accessLog: true });
});
