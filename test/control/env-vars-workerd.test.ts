/**
 * Misconfigured operator vars in real workerd: the control worker answers the routes that read a
 * bad var with 503 ERR_UNAVAILABLE naming it (the operator's problem, not the client's), every
 * other route keeps working, and the cron skips only the pruning whose retention var is bad.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { projectRoot, startControlWorker, type StartedWorker } from "../support/control-worker.ts";
import { createThrowawayCa, type ThrowawayCa } from "../support/throwaway-ca.ts";
import { bearer, callApi } from "../support/control-client.ts";

const run = promisify(execFile);
type Json = Record<string, any>;
let ca: ThrowawayCa;

before(async () => {
  ca = await createThrowawayCa();
});

const se = (name: string, ns = "shop") => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: ${ns}}
spec: {hosts: [${name}], location: MESH_INTERNAL, resolution: STATIC, ports: [{number: 80, name: http, protocol: HTTP}], endpoints: [{address: 10.0.0.1}]}`;

function applyYaml(w: StartedWorker, yaml: string, query = ""): Promise<Response> {
  return w.fetch(`/v1/apply${query}`, { method: "POST", headers: bearer(ca.adminToken, "application/yaml"), body: yaml });
}

/** A 503 ERR_UNAVAILABLE whose field is `name` and whose message says what the var must be and what it is. */
async function assertMisconfigured(r: Response, name: string, got: string): Promise<void> {
  const text = await r.text();
  assert.equal(r.status, 503, text);
  const body = JSON.parse(text) as Json;
  assert.equal(body.error.code, "ERR_UNAVAILABLE", text);
  assert.equal(body.error.field, name, text);
  assert.ok(body.error.message.startsWith(`${name}: must be `), text);
  assert.ok(body.error.message.endsWith(`got ${JSON.stringify(got)}`), text);
}

async function sqlRows(w: StartedWorker, sql: string): Promise<Record<string, unknown>[]> {
  const { stdout } = await run(
    process.execPath,
    [join(projectRoot, "node_modules/wrangler/bin/wrangler.js"), "d1", "execute", "DB", "--local", "--env", "control", "--persist-to", w.persistDir, "--json", "--command", sql],
    { cwd: join(w.persistDir, ".."), env: { ...process.env, CI: "true" }, maxBuffer: 16 * 1024 * 1024 },
  );
  return (JSON.parse(stdout) as { results: Record<string, unknown>[] }[])[0]?.results ?? [];
}

describe("bad long-poll, publish-wait and audit retention vars", () => {
  let w: StartedWorker;
  before(async () => {
    w = await startControlWorker({ vars: { ...ca.vars, SNAPSHOT_LONGPOLL_MAX_SECONDS: "1m", PUBLISH_WAIT_MAX_SECONDS: "2m", AUDIT_RETENTION_DAYS: "90d" } });
  });
  after(async () => {
    await w?.dispose();
  });

  test("a snapshot read answers 503 naming SNAPSHOT_LONGPOLL_MAX_SECONDS", async () => {
    await assertMisconfigured(await w.fetch("/v1/snapshots/gateway", { headers: bearer(ca.adminToken) }), "SNAPSHOT_LONGPOLL_MAX_SECONDS", "1m");
  });

  test("a write with ?wait= answers 503 naming PUBLISH_WAIT_MAX_SECONDS and writes nothing; a plain write works", async () => {
    await assertMisconfigured(await applyYaml(w, se("waited"), "?wait=5"), "PUBLISH_WAIT_MAX_SECONDS", "2m");
    assert.equal((await callApi(w, "/apis/networking.istio.io/v1/namespaces/shop/serviceentries/waited", { token: ca.adminToken })).status, 404, "nothing written");
    const plain = await applyYaml(w, se("plain"));
    assert.equal(plain.status, 200, await plain.clone().text());
    const read = await callApi<Json>(w, "/apis/networking.istio.io/v1/namespaces/shop/serviceentries/plain", { token: ca.adminToken });
    assert.equal(read.status, 200, read.text);
    assert.equal(read.body.metadata.name, "plain");
  });

  test("unaffected routes keep working: quotas, identity, publish status", async () => {
    const quota = await callApi<Json>(w, "/v1/quotas/shop", { token: ca.adminToken });
    assert.equal(quota.status, 200, quota.text);
    assert.deepEqual(quota.body.limits, { maxResources: 5000, maxBytes: 8 * 1024 * 1024 });
    const bundle = await w.fetch("/.well-known/spiffe-bundle");
    assert.equal(bundle.status, 200, await bundle.clone().text());
    await bundle.body?.cancel();
    const status = await callApi<Json>(w, "/v1/publish/status", { token: ca.adminToken });
    assert.equal(status.status, 200, status.text);
  });

  test("the cron skips the event pruning (bad AUDIT_RETENTION_DAYS) and still prunes refusal counters", async () => {
    const old = Date.UTC(2001, 0, 1);
    await sqlRows(w, `INSERT INTO audit_events (at, actor, action, target, outcome, detail) VALUES (${old}, 'admin', 'config.apply', 'x', 'success', NULL)`);
    await sqlRows(w, `INSERT INTO audit_refusals (minute, source, code, count, first_at, last_at, sample) VALUES (${old}, '192.0.2.1', 'ERR_UNAUTHENTICATED', 3, ${old}, ${old}, 'GET /')`);
    const r = await w.fetch("/cdn-cgi/handler/scheduled?cron=17+*+*+*+*");
    assert.equal(r.status, 200, await r.text());
    // The local runtime answers once the handler's waitUntil is done; poll briefly in case it does not.
    let refusals = 1;
    for (let i = 0; i < 50 && refusals !== 0; i++) {
      refusals = Number((await sqlRows(w, `SELECT count(*) AS n FROM audit_refusals WHERE minute = ${old}`))[0]?.n);
      if (refusals !== 0) await new Promise((res) => setTimeout(res, 100));
    }
    assert.equal(refusals, 0, "refusal counters past AUDIT_REFUSAL_RETENTION_DAYS (default 14) were pruned");
    const events = await sqlRows(w, `SELECT count(*) AS n FROM audit_events WHERE at = ${old}`);
    assert.equal(Number(events[0]?.n), 1, "no audit event was pruned with a guessed retention");
  });
});

describe("bad quota and blob-size vars", () => {
  let w: StartedWorker;
  before(async () => {
    w = await startControlWorker({ vars: { ...ca.vars, NAMESPACE_MAX_RESOURCES: "5k", SNAPSHOT_MAX_BLOB_BYTES: "20MiB" } });
  });
  after(async () => {
    await w?.dispose();
  });

  test("a write that grows a namespace and the quota read answer 503 naming NAMESPACE_MAX_RESOURCES", async () => {
    await assertMisconfigured(await applyYaml(w, se("quoted")), "NAMESPACE_MAX_RESOURCES", "5k");
    assert.equal((await callApi(w, "/apis/networking.istio.io/v1/namespaces/shop/serviceentries/quoted", { token: ca.adminToken })).status, 404, "nothing written");
    await assertMisconfigured(await w.fetch("/v1/quotas/shop", { headers: bearer(ca.adminToken) }), "NAMESPACE_MAX_RESOURCES", "5k");
  });

  test("a namespace with an admin override is unaffected; deleting the override is refused before it deletes", async () => {
    const put = await callApi<Json>(w, "/v1/quotas/tenant", { method: "PUT", token: ca.adminToken, json: { maxResources: 10, maxBytes: 100000 } });
    assert.equal(put.status, 200, put.text);
    const write = await applyYaml(w, se("inside", "tenant"));
    assert.equal(write.status, 200, await write.clone().text());
    const got = await callApi<Json>(w, "/v1/quotas/tenant", { token: ca.adminToken });
    assert.equal(got.status, 200, got.text);
    assert.equal(got.body.source, "override");
    await assertMisconfigured(await w.fetch("/v1/quotas/tenant", { method: "DELETE", headers: bearer(ca.adminToken) }), "NAMESPACE_MAX_RESOURCES", "5k");
    assert.equal((await callApi<Json>(w, "/v1/quotas/tenant", { token: ca.adminToken })).body.source, "override", "the override is still there");
  });

  test("the publish run fails with SNAPSHOT_MAX_BLOB_BYTES named in GET /v1/publish/status", async () => {
    // A fresh publisher object publishes once on its first call: that run reads the blob limit.
    let status: Json = {};
    for (let i = 0; i < 100; i++) {
      const r = await callApi<Json>(w, "/v1/publish/status", { token: ca.adminToken });
      assert.equal(r.status, 200, r.text);
      status = r.body;
      if (status.publisher.lastError !== null) break;
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.match(String(status.publisher.lastError), /^SNAPSHOT_MAX_BLOB_BYTES: must be an integer from 1024 to 26214400, got "20MiB"$/, JSON.stringify(status.publisher));
    assert.ok(status.publisher.failedRuns >= 1, JSON.stringify(status.publisher));
  });

  test("unaffected routes keep working: reads, identity", async () => {
    const list = await callApi<Json>(w, "/apis/networking.istio.io/v1/namespaces/shop/serviceentries", { token: ca.adminToken });
    assert.equal(list.status, 200, list.text);
    const bundle = await w.fetch("/.well-known/spiffe-bundle");
    assert.equal(bundle.status, 200);
    await bundle.body?.cancel();
  });
});

describe("a bad var the publisher object reads when it loads", () => {
  let w: StartedWorker;
  before(async () => {
    w = await startControlWorker({ vars: { ...ca.vars, SNAPSHOT_BLOB_RETENTION_SECONDS: "10m" } });
  });
  after(async () => {
    await w?.dispose();
  });

  test("blob collection is off, named in GET /v1/publish/status; publishing, snapshot reads and writes carry on", async () => {
    const plain = await applyYaml(w, se("landed"));
    assert.equal(plain.status, 200, await plain.clone().text());
    const read = await callApi<Json>(w, "/apis/networking.istio.io/v1/namespaces/shop/serviceentries/landed", { token: ca.adminToken });
    assert.equal(read.status, 200, read.text);
    // A write that waits for its publish is published: only the collector is off.
    const waited = await applyYaml(w, se("waited"), "?wait=30");
    assert.equal(waited.status, 200, await waited.clone().text());
    assert.equal(waited.headers.get("x-strait-publish"), "Published");
    const snapshot = await w.fetch("/v1/snapshots/gateway", { headers: bearer(ca.adminToken) });
    assert.equal(snapshot.status, 200, await snapshot.clone().text());
    await snapshot.body?.cancel();
    const status = await callApi<Json>(w, "/v1/publish/status", { token: ca.adminToken });
    assert.equal(status.status, 200, status.text);
    assert.match(String(status.body.publisher.blobs.error), /^blob collection is off: SNAPSHOT_BLOB_RETENTION_SECONDS: .*got "10m"$/, JSON.stringify(status.body.publisher));
    assert.equal(status.body.publisher.blobs.deletedTotal, 0);
  });
});
