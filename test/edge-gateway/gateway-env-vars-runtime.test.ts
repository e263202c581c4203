/**
 * Gateway vars in real runtimes (workerd through Miniflare, and `deno serve`): a bad Strait var
 * (SNAPSHOT_CHECK_SECONDS, ACCESS_LOG) is logged once and answered with 503 naming it, /healthz
 * included, while the control worker beside it keeps working; a bad OTEL_* var is one warning per
 * isolate (or process) naming it, and the gateway serves with the default.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createThrowawayCa, type ThrowawayCa } from "../support/throwaway-ca.ts";
import { startEdgeMesh, type EdgeMesh } from "../support/edge-gateway-mesh.ts";
import { startDenoGateway, type DenoGateway } from "../support/edge-gateway-deno.ts";
import { eventually } from "../support/eventually.ts";

let ca: ThrowawayCa;
before(async () => {
  ca = await createThrowawayCa();
});

const count = (lines: readonly string[], needle: string) => lines.filter((l) => l.includes(needle)).length;

describe("workerd: a bad SNAPSHOT_CHECK_SECONDS", () => {
  let mesh: EdgeMesh;
  const lines: string[] = [];
  before(async () => {
    mesh = await startEdgeMesh({ controlVars: ca.vars, gatewayVars: { SNAPSHOT_CHECK_SECONDS: "2s" }, onLine: (l) => lines.push(l) });
  });
  after(async () => {
    await mesh?.dispose();
  });

  test("/healthz and every request answer 503 naming the var; logged once; the control worker keeps working", async () => {
    const message = 'SNAPSHOT_CHECK_SECONDS: must be a number from 0 to 3600, got "2s"';
    const health = await mesh.gateway("/healthz");
    assert.equal(health.status, 503);
    assert.deepEqual(await health.json(), { ok: false, misconfigured: [{ var: "SNAPSHOT_CHECK_SECONDS", message }] });
    for (const path of ["/", "/app", "/healthz?x=1"]) {
      const r = await mesh.gateway(path, { method: path === "/app" ? "POST" : "GET", headers: { host: "shop.example.com" }, ...(path === "/app" ? { body: "x" } : {}) });
      assert.equal(r.status, 503, path);
      assert.equal(await r.text(), path === "/healthz?x=1" ? JSON.stringify({ ok: false, misconfigured: [{ var: "SNAPSHOT_CHECK_SECONDS", message }] }) : "gateway misconfigured: SNAPSHOT_CHECK_SECONDS (see /healthz or the gateway's log)", path);
    }
    const bundle = await mesh.control("/.well-known/spiffe-bundle");
    assert.equal(bundle.status, 200);
    await bundle.body?.cancel();
    await eventually(async () => assert.equal(count(lines, "gateway misconfigured, answering 503"), 1, lines.join("\n")), 10_000);
    assert.ok(lines.some((l) => l.includes(message)), lines.join("\n"));
  });
});

describe("workerd: bad OTEL_* vars", () => {
  let mesh: EdgeMesh;
  const lines: string[] = [];
  before(async () => {
    mesh = await startEdgeMesh({
      controlVars: ca.vars,
      gatewayVars: { OTEL_BSP_SCHEDULE_DELAY: "soon", OTEL_METRIC_EXPORT_INTERVAL: "-5", ACCESS_LOG: "off" },
      onLine: (l) => lines.push(l),
    });
  });
  after(async () => {
    await mesh?.dispose();
  });

  test("one warning per var per isolate, and the gateway serves", async () => {
    for (let i = 0; i < 3; i++) {
      const health = await mesh.gateway("/healthz");
      assert.equal(health.status, 200);
      assert.equal(((await health.json()) as { ok: boolean }).ok, true);
    }
    // Routed by the gateway (404 no route, or 503 while no snapshot is published yet), never the misconfiguration reply.
    const routed = await mesh.gateway("/nothing-here", { headers: { host: "nowhere.example.com" } });
    const text = await routed.text();
    assert.ok(!text.startsWith("gateway misconfigured"), text);
    await eventually(async () => {
      assert.equal(count(lines, 'OTEL_BSP_SCHEDULE_DELAY: must be an integer from 0 to 9007199254740991, got "soon"; using the OpenTelemetry default'), 1, lines.join("\n"));
      assert.equal(count(lines, 'OTEL_METRIC_EXPORT_INTERVAL: must be an integer from 0 to 9007199254740991, got "-5"'), 1, lines.join("\n"));
    }, 10_000);
    assert.equal(count(lines, "gateway misconfigured"), 0);
  });
});

describe("deno serve", () => {
  let deno: DenoGateway | undefined;
  after(async () => {
    await deno?.stop();
  });

  test("a bad ACCESS_LOG: /healthz and requests answer 503 naming it, logged once", async () => {
    const d = await startDenoGateway({ STRAIT_SNAPSHOT_FILE: "/nonexistent/strait-snapshot.json", STRAIT_TRUST_BUNDLE_FILE: "/nonexistent/bundle.json", ACCESS_LOG: "of" });
    deno = d;
    const message = 'ACCESS_LOG: must be one of on, off, got "of"';
    const health = await fetch(new URL("/healthz", d.url));
    assert.equal(health.status, 503);
    assert.deepEqual(await health.json(), { ok: false, misconfigured: [{ var: "ACCESS_LOG", message }] });
    for (let i = 0; i < 2; i++) {
      const r = await fetch(new URL("/app", d.url));
      assert.equal(r.status, 503);
      assert.equal(await r.text(), "gateway misconfigured: ACCESS_LOG (see /healthz or the gateway's log)");
    }
    assert.equal(count(d.output().split("\n"), "gateway misconfigured, answering 503"), 1, d.output());
    await d.stop();
    deno = undefined;
  });

  test("a bad OTEL_BSP_MAX_QUEUE_SIZE: one warning naming it, and /healthz is ok", async () => {
    const d = await startDenoGateway({ STRAIT_SNAPSHOT_FILE: "/nonexistent/strait-snapshot.json", STRAIT_TRUST_BUNDLE_FILE: "/nonexistent/bundle.json", OTEL_BSP_MAX_QUEUE_SIZE: "lots", ACCESS_LOG: "off" });
    deno = d;
    for (let i = 0; i < 2; i++) {
      const health = await fetch(new URL("/healthz", d.url));
      assert.equal(health.status, 200);
      assert.equal(((await health.json()) as { ok: boolean }).ok, true);
    }
    await eventually(async () => assert.equal(count(d.output().split("\n"), 'OTEL_BSP_MAX_QUEUE_SIZE: must be an integer from 1 to 9007199254740991, got "lots"'), 1, d.output()), 10_000);
  });
});
