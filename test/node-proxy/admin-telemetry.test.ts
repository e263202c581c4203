// Telemetry helpers the data plane records into: W3C trace context (propagated through
// OpenTelemetry's propagator, a new span id per hop) and the JSON access log.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { trace } from "@opentelemetry/api";
import { W3cProxyTracing } from "../../src/node-proxy/telemetry/tracing.ts";
import { JsonAccessLog } from "../../src/node-proxy/telemetry/access-log.ts";

describe("traceparent propagation", () => {
  const tracing = new W3cProxyTracing();

  test("an incoming traceparent continues: same trace id, a new span id, flags kept", () => {
    const incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    const parent = tracing.extract({ traceparent: incoming, tracestate: "vendor=1" });
    const { span, context } = tracing.startSpan("outbound reviews", parent, { "http.method": "GET" });
    const out = tracing.inject(context, {});
    const [version, traceId, spanId, flags] = (out.traceparent ?? "").split("-");
    assert.equal(version, "00");
    assert.equal(traceId, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert.match(spanId ?? "", /^[0-9a-f]{16}$/);
    assert.notEqual(spanId, "00f067aa0ba902b7");
    assert.equal(flags, "01");
    assert.equal(out.tracestate, "vendor=1");
    assert.equal(trace.getSpanContext(context)?.spanId, span.spanContext().spanId);
    span.end();
  });

  test("no (or a malformed) traceparent starts a new trace", () => {
    for (const headers of [{}, { traceparent: "garbage" }, { traceparent: "00-00000000000000000000000000000000-00f067aa0ba902b7-01" }]) {
      const { context } = tracing.startSpan("inbound", tracing.extract(headers));
      const out = tracing.inject(context, {});
      assert.match(out.traceparent ?? "", /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      assert.ok(!(out.traceparent ?? "").includes("00000000000000000000000000000000"));
    }
  });
});

describe("JSON access log", () => {
  test("one JSON object per line, Envoy field names, '-' when there are no response flags", async () => {
    const dir = await mkdtemp(join(tmpdir(), "strait-access-"));
    try {
      const file = join(dir, "access.log");
      const log = new JsonAccessLog(file);
      log.log({ start_time: "2031-03-04T05:06:07.000Z", method: "GET", path: "/a", protocol: "HTTP/1.1", response_code: 200, response_flags: "", bytes_received: 0, bytes_sent: 12, duration: 3 });
      log.log({ start_time: "2031-03-04T05:06:08.000Z", method: "GET", path: "/b", protocol: "HTTP/1.1", response_code: 503, response_flags: "UO", bytes_received: 0, bytes_sent: 0, duration: 0, connection_security_policy: "mutual_tls" });
      await log.close();
      const lines = (await readFile(file, "utf8")).trim().split("\n").map((l) => JSON.parse(l));
      assert.equal(lines.length, 2);
      assert.equal(lines[0].response_flags, "-");
      assert.equal(lines[1].response_flags, "UO");
      assert.equal(lines[1].connection_security_policy, "mutual_tls");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
