// The gateway's vars: Strait's own (SNAPSHOT_CHECK_SECONDS, ACCESS_LOG) are strict, and a bad one
// makes the gateway misconfigured (503 naming it, /healthz included); the OTEL_* vars follow the
// OpenTelemetry specification (a warning naming the var, then the default).
import { test } from "node:test";
import assert from "node:assert/strict";
import { gatewaySettingsFrom, logProblems, misconfiguredResponse } from "../../src/edge-gateway/gateway/gateway-settings.ts";
import { telemetrySettingsFrom } from "../../src/edge-gateway/gateway/gateway-telemetry.ts";
import { parseOtlpHeaders } from "../../src/edge-gateway/telemetry/otlp-exporter.ts";

function read(env: Record<string, string>) {
  const warnings: string[] = [];
  const s = gatewaySettingsFrom(env, (m) => warnings.push(m));
  return { ...s, warnings };
}

test("SNAPSHOT_CHECK_SECONDS: unset or empty is 2 s; 0 to 3600, fractions allowed", () => {
  assert.equal(read({}).snapshotCheckMs, 2000);
  assert.equal(read({ SNAPSHOT_CHECK_SECONDS: "" }).snapshotCheckMs, 2000);
  assert.equal(read({ SNAPSHOT_CHECK_SECONDS: "0" }).snapshotCheckMs, 0);
  assert.equal(read({ SNAPSHOT_CHECK_SECONDS: "0.5" }).snapshotCheckMs, 500);
  assert.equal(read({ SNAPSHOT_CHECK_SECONDS: "3600" }).snapshotCheckMs, 3_600_000);
  for (const s of [read({}), read({ SNAPSHOT_CHECK_SECONDS: "0.5" })]) assert.deepEqual(s.problems, []);
});

test("SNAPSHOT_CHECK_SECONDS: garbage, negative and too large are problems naming the var", () => {
  for (const bad of ["2s", "-1", "3601", "soon", "1e2"]) {
    const s = read({ SNAPSHOT_CHECK_SECONDS: bad });
    assert.deepEqual(s.problems, [{ var: "SNAPSHOT_CHECK_SECONDS", message: `SNAPSHOT_CHECK_SECONDS: must be a number from 0 to 3600, got ${JSON.stringify(bad)}` }], bad);
  }
});

test("ACCESS_LOG: unset or empty is on; on/off, true/false, 1/0 in any case; anything else is a problem naming the var", () => {
  assert.equal(read({}).telemetry.accessLog, true);
  assert.equal(read({ ACCESS_LOG: "" }).telemetry.accessLog, true);
  assert.equal(read({ ACCESS_LOG: "on" }).telemetry.accessLog, true);
  assert.equal(read({ ACCESS_LOG: "off" }).telemetry.accessLog, false);
  // The usual spellings of a switch, in any case, are accepted (a value that meant "on" before stays on).
  for (const [word, on] of [["Off", false], ["FALSE", false], ["0", false], ["ON", true], ["true", true], ["1", true]] as const) {
    const r = read({ ACCESS_LOG: word });
    assert.deepEqual([r.problems, r.telemetry.accessLog], [[], on], word);
  }
  for (const bad of ["no", "of", "yes please"]) {
    assert.deepEqual(read({ ACCESS_LOG: bad }).problems, [{ var: "ACCESS_LOG", message: `ACCESS_LOG: must be one of on, off, got ${JSON.stringify(bad)}` }], bad);
  }
  assert.equal(read({ ACCESS_LOG: "of", SNAPSHOT_CHECK_SECONDS: "x" }).problems.length, 2);
});

test("RESPONSE_REQUEST_ID: unset or empty is off (as Envoy's always_set_request_id_in_response); on/off, true/false, 1/0 in any case; anything else is a problem naming the var", () => {
  assert.equal(read({}).responseRequestId, false);
  assert.equal(read({ RESPONSE_REQUEST_ID: "" }).responseRequestId, false);
  for (const [word, on] of [["on", true], ["ON", true], ["true", true], ["1", true], ["off", false], ["False", false], ["0", false]] as const) {
    const r = read({ RESPONSE_REQUEST_ID: word });
    assert.deepEqual([r.problems, r.responseRequestId], [[], on], word);
  }
  for (const bad of ["yes", "always"]) {
    assert.deepEqual(read({ RESPONSE_REQUEST_ID: bad }).problems, [{ var: "RESPONSE_REQUEST_ID", message: `RESPONSE_REQUEST_ID: must be one of on, off, got ${JSON.stringify(bad)}` }], bad);
  }
});

test("a misconfigured gateway: /healthz is a 503 JSON naming the vars, any other request a 503 local reply naming them", async () => {
  const { problems } = read({ SNAPSHOT_CHECK_SECONDS: "2s" });
  const health = misconfiguredResponse(problems, "GET", "/healthz");
  assert.equal(health.status, 503);
  assert.deepEqual(await health.json(), { ok: false, misconfigured: problems });
  const head = misconfiguredResponse(problems, "HEAD", "/healthz");
  assert.equal(head.status, 503);
  assert.equal(head.body, null);
  for (const [method, path] of [["GET", "/app"], ["POST", "/healthz"], ["PUT", "/x/y"]] as const) {
    const r = misconfiguredResponse(problems, method, path);
    assert.equal(r.status, 503);
    assert.equal(r.headers.get("content-type"), "text/plain");
    assert.equal(await r.text(), "gateway misconfigured: SNAPSHOT_CHECK_SECONDS (see /healthz or the gateway's log)", "a client learns the var, not its value");
  }
  const lines: string[] = [];
  logProblems(problems, (m) => lines.push(m));
  assert.deepEqual(lines, ['gateway misconfigured, answering 503 until fixed: SNAPSHOT_CHECK_SECONDS: must be a number from 0 to 3600, got "2s"']);
});

test("OTEL_* valid values are used; unset and empty are the defaults, without a warning", () => {
  const warnings: string[] = [];
  const s = telemetrySettingsFrom(
    { OTEL_EXPORTER_OTLP_ENDPOINT: "https://otel.example.com:4318", OTEL_EXPORTER_OTLP_HEADERS: "api-key=abc%20d", OTEL_METRIC_EXPORT_INTERVAL: "0", OTEL_BSP_SCHEDULE_DELAY: "250", OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "64", OTEL_BSP_MAX_QUEUE_SIZE: "128", OTEL_SERVICE_NAME: "edge" },
    (m) => warnings.push(m),
  );
  assert.deepEqual(s, {
    otlpEndpoint: "https://otel.example.com:4318",
    otlpHeaders: "api-key=abc%20d",
    metricExportIntervalMs: 0,
    serviceName: "edge",
    accessLog: true,
    spanExportDelayMs: 250,
    spanBatchSize: 64,
    spanQueueSize: 128,
  });
  const empty = telemetrySettingsFrom({ OTEL_EXPORTER_OTLP_ENDPOINT: "", OTEL_METRIC_EXPORT_INTERVAL: "", OTEL_BSP_SCHEDULE_DELAY: " ", OTEL_SERVICE_NAME: "" }, (m) => warnings.push(m));
  assert.deepEqual(empty, { accessLog: true });
  assert.deepEqual(warnings, []);
});

test("OTEL_* invalid values: one warning naming each var, and the default is used", () => {
  const warnings: string[] = [];
  const s = telemetrySettingsFrom(
    { OTEL_EXPORTER_OTLP_ENDPOINT: "ftp://user:secret@collector", OTEL_METRIC_EXPORT_INTERVAL: "10s", OTEL_BSP_SCHEDULE_DELAY: "soon", OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "0", OTEL_BSP_MAX_QUEUE_SIZE: "2.5" },
    (m) => warnings.push(m),
  );
  assert.deepEqual(s, { accessLog: true });
  assert.equal(warnings.length, 5, warnings.join("\n"));
  for (const name of ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_METRIC_EXPORT_INTERVAL", "OTEL_BSP_SCHEDULE_DELAY", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "OTEL_BSP_MAX_QUEUE_SIZE"]) {
    assert.equal(warnings.filter((w) => w.startsWith(`${name}: `)).length, 1, name);
  }
  assert.ok(warnings.includes('OTEL_BSP_SCHEDULE_DELAY: must be an integer from 0 to 9007199254740991, got "soon"; using the OpenTelemetry default'), warnings.join("\n"));
  assert.ok(!warnings.join("\n").includes("secret"), "the endpoint, which may carry credentials, is not quoted");
  // Strait's own var next to bad OTEL ones: the gateway settings report only it as a problem.
  const g = read({ OTEL_BSP_SCHEDULE_DELAY: "soon" });
  assert.deepEqual(g.problems, []);
  assert.equal(g.warnings.length, 1);
});

test("OTEL_EXPORTER_OTLP_HEADERS: a malformed pair is skipped with a warning that never quotes a value", () => {
  const warnings: string[] = [];
  const headers = parseOtlpHeaders("api-key=s3cr3t,broken,bad name=x,ok=%E0%A4%A,x-tenant=t1", (m) => warnings.push(m));
  assert.deepEqual(headers, { "api-key": "s3cr3t", "x-tenant": "t1" });
  assert.deepEqual(warnings, [
    "OTEL_EXPORTER_OTLP_HEADERS: pair 2 of 5 is not a valid key=value header; it is skipped",
    "OTEL_EXPORTER_OTLP_HEADERS: pair 3 of 5 is not a valid key=value header; it is skipped",
    "OTEL_EXPORTER_OTLP_HEADERS: pair 4 of 5 is not a valid key=value header; it is skipped",
  ]);
  const s = telemetrySettingsFrom({ OTEL_EXPORTER_OTLP_HEADERS: "nope" }, (m) => warnings.push(m));
  assert.equal(s.otlpHeaders, "nope");
  assert.equal(warnings.length, 4);
});
