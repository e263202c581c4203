// The whole strait-proxy base as `main` starts it (identity, config, transport, admin, metrics,
// and the real data plane) against the real control worker: admin endpoints, readiness, /certs
// without private keys, Prometheus output checked by Prometheus's own `promtool check metrics`,
// bad admin input, and a restart from the state directory while the control plane is stopped.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "node:http";
import { projectRoot, startControlWorker, type StartedWorker } from "../support/control-worker.ts";
import { createThrowawayCa, type ThrowawayCa } from "../support/throwaway-ca.ts";
import { controlClient } from "../support/control-client.ts";
import { startProxy, type RunningProxy } from "../../src/node-proxy/main.ts";
import type { ProxyLogger, ProxySettings } from "../../src/node-proxy/context.ts";

let ca: ThrowawayCa;
let worker: StartedWorker | undefined;
let stateDir: string;
let proxy: RunningProxy | undefined;
const { apply, joinToken } = controlClient<Record<string, any>>(() => worker as StartedWorker, () => ca.adminToken);
const logger: ProxyLogger = { info() {}, warn() {}, error() {} };

const CONFIG = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews.shop.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 9080, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: reviews}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-1, namespace: shop, labels: {strait.io/cluster: c1, strait.io/node: a}}
spec: {address: 127.0.0.1, serviceAccount: reviews, labels: {app: reviews}, ports: {http: 18080}}
`;

const any = { host: "127.0.0.1", port: 0 };

function settings(token: string, controlUrl: URL): ProxySettings {
  return {
    controlUrl,
    cluster: "c1",
    node: "a",
    attestation: { kind: "join-token", token },
    listen: { outbound: any, inboundPlaintext: any, hbone: any, edgeIngress: any, admin: any, metrics: any },
    stateDir,
    longPollSeconds: 2,
    hbonePeerPort: 15008,
    accessLog: "off",
  };
}

function port(name: string): number {
  const a = proxy?.listening.get(name);
  assert.ok(a, `${name} is listening`);
  return a.port;
}

async function get(name: "admin" | "metrics", path: string, init?: RequestInit): Promise<{ status: number; text: string }> {
  const r = await fetch(`http://127.0.0.1:${port(name)}${path}`, init);
  return { status: r.status, text: await r.text() };
}

function promtool(text: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = execFile("promtool", ["check", "metrics"], (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : 1, output: `${stdout}${stderr}` });
    });
    child.stdin?.end(text);
  });
}

async function waitReady(): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await get("admin", "/ready");
    if (r.status === 200) return;
    if (Date.now() > deadline) assert.fail(`not ready: ${r.text}`);
    await new Promise((res) => setTimeout(res, 200));
  }
}

let controlUrl: URL;

before(async () => {
  ca = await createThrowawayCa();
  worker = await startControlWorker({ vars: { ...ca.vars, SNAPSHOT_LONGPOLL_MAX_SECONDS: "2" } });
  controlUrl = worker.url;
  await apply(CONFIG);
  stateDir = await mkdtemp(join(tmpdir(), "strait-proxy-admin-"));
});

after(async () => {
  await proxy?.close();
  await worker?.dispose();
  if (stateDir !== undefined) await rm(stateDir, { recursive: true, force: true });
});

describe("strait-proxy base: admin and metrics", () => {
  test("starts (attest, SVIDs, config, data plane) and becomes ready", async () => {
    proxy = await startProxy(settings(await joinToken("c1", "a"), controlUrl), { logger });
    for (const name of ["admin", "metrics", "hbone", "outbound", "inboundPlaintext", "edgeIngress"]) assert.ok(proxy.listening.get(name), name);
    assert.equal((await get("admin", "/healthz")).status, 200);
    await waitReady();
    const ready = JSON.parse((await get("admin", "/ready")).text);
    assert.deepEqual(ready, { ready: true, checks: { nodeIdentity: true, config: true, workloadIdentities: true, dataPlane: true } });
  });

  test("/config_dump shows the live snapshot, where it came from, and the state around it", async () => {
    // The applied version is reported right after the swap; a failed report is retried on the next poll.
    let dump = JSON.parse((await get("admin", "/config_dump")).text);
    for (let i = 0; i < 50 && dump.watcher.reportedVersion !== dump.config.version; i++) {
      await new Promise((r) => setTimeout(r, 200));
      dump = JSON.parse((await get("admin", "/config_dump")).text);
    }
    assert.equal(dump.config.origin, "control");
    assert.ok(dump.config.version >= 1);
    assert.deepEqual(dump.config.snapshot.workloads.map((w: { name: string }) => w.name), ["reviews-1"]);
    assert.equal(dump.node.spiffeId, `spiffe://${ca.trustDomain}/node/c1/a`);
    assert.equal(dump.watcher.reportedVersion, dump.config.version);
    assert.equal(typeof dump.listening.hbone, "string");
  });

  test("/certs describes every held SVID and the bundle, and never contains a private key", async () => {
    const r = await get("admin", "/certs");
    assert.equal(r.status, 200);
    const certs = JSON.parse(r.text);
    const ids = certs.identities.map((i: { spiffeId: string }) => i.spiffeId).sort();
    assert.deepEqual(ids, [`spiffe://${ca.trustDomain}/node/c1/a`, `spiffe://${ca.trustDomain}/ns/shop/sa/reviews`]);
    for (const i of certs.identities) {
      assert.equal(i.state, "valid");
      assert.equal(i.chain[0].spiffeId, i.spiffeId);
    }
    assert.equal(certs.bundle.trustDomain, ca.trustDomain);
    assert.ok(certs.bundle.x509Authorities.length >= 1);
    assert.doesNotMatch(r.text, /PRIVATE KEY|keyPem|"d":/);
    const key = proxy?.identity.credentialsFor(`spiffe://${ca.trustDomain}/ns/shop/sa/reviews`)?.keyPem ?? "";
    const body = key.split("\n")[1] ?? "unreachable";
    assert.ok(!r.text.includes(body.slice(0, 40)), "no fragment of the key either");
  });

  test("/stats/prometheus has Istio's metric names and labels and passes `promtool check metrics`", async () => {
    const m = proxy?.ctx.metrics;
    assert.ok(m);
    const labels = {
      reporter: "destination" as const,
      source_workload: "web",
      source_principal: `spiffe://${ca.trustDomain}/ns/shop/sa/web`,
      destination_service: "reviews.shop.svc.cluster.local",
      destination_principal: `spiffe://${ca.trustDomain}/ns/shop/sa/reviews`,
      response_code: "200",
      response_flags: "-",
      connection_security_policy: "mutual_tls" as const,
    };
    m.request(labels, { durationMs: 3.2, requestBytes: 1024, responseBytes: 2048 });
    m.tcpOpened(labels);
    m.tcpBytes(labels, 100, 200);
    m.tcpClosed(labels);
    m.count("authz_denied", { workload: "shop/reviews" });
    const r = await get("metrics", "/stats/prometheus");
    assert.equal(r.status, 200);
    for (const name of [
      "istio_requests_total",
      "istio_request_duration_milliseconds_bucket",
      "istio_request_bytes_bucket",
      "istio_response_bytes_bucket",
      "istio_tcp_connections_opened_total",
      "istio_tcp_connections_closed_total",
      "istio_tcp_sent_bytes_total",
      "istio_tcp_received_bytes_total",
    ]) {
      assert.match(r.text, new RegExp(`^${name}\\{[^}]*connection_security_policy="mutual_tls"`, "m"), name);
    }
    assert.match(r.text, /istio_requests_total\{reporter="destination",source_workload="web",source_principal="spiffe:\/\/[^"]+\/sa\/web",destination_service="reviews.shop.svc.cluster.local",destination_principal="[^"]+\/sa\/reviews",response_code="200",response_flags="-",connection_security_policy="mutual_tls"\} 1/);
    // promtool exits 1 on a malformed exposition and 3 on lint findings. The one finding allowed is
    // Istio's own metric name, which promtool would rather see in seconds: Istio fixes it in milliseconds.
    const check = await promtool(r.text);
    const findings = check.output.split("\n").filter((l) => l.trim() !== "");
    assert.ok(check.code === 0 || check.code === 3, check.output);
    assert.deepEqual(findings, ['istio_request_duration_milliseconds use base unit "seconds" instead of "milliseconds"'], check.output);
  });

  test("bad admin input: wrong method 405, unknown path 404, oversized headers refused; the proxy keeps answering", async () => {
    assert.equal((await get("admin", "/config_dump", { method: "POST", body: "x" })).status, 405);
    assert.equal((await get("admin", "/nope")).status, 404);
    assert.equal((await get("metrics", "/nope")).status, 404);
    const status = await new Promise<number | "closed">((resolve) => {
      const req = request({ host: "127.0.0.1", port: port("admin"), path: "/healthz", headers: { "x-big": "a".repeat(64 * 1024) } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", () => resolve("closed"));
      req.end();
    });
    assert.ok(status === 431 || status === "closed", String(status));
    assert.equal((await get("admin", "/healthz")).status, 200);
  });

  test("restart while the control plane is down: identity, SVIDs and config come back from disk", async () => {
    const before = JSON.parse((await get("admin", "/config_dump")).text).config;
    await proxy?.close();
    proxy = undefined;
    await worker?.dispose();
    worker = undefined;
    proxy = await startProxy(settings("", controlUrl), { logger });
    await waitReady();
    const dump = JSON.parse((await get("admin", "/config_dump")).text);
    assert.equal(dump.config.origin, "disk");
    assert.equal(dump.config.version, before.version);
    assert.equal(dump.config.hash, before.hash);
    assert.equal(dump.watcher.connected, false);
    const certs = JSON.parse((await get("admin", "/certs")).text);
    assert.ok(certs.identities.every((i: { state: string }) => i.state === "valid"));
  });

  test("the strait-proxy bin starts from the state directory, serves /ready, and exits 0 on SIGTERM", async () => {
    await proxy?.close();
    proxy = undefined;
    const child = spawn(process.execPath, [join(projectRoot, "bin/strait-proxy.mjs"), "--control-url", controlUrl.href, "--cluster", "c1", "--node", "a", "--state-dir", stateDir, "--access-log", "off",
      ...["outbound", "inbound-plaintext", "hbone", "edge-ingress", "admin", "metrics"].flatMap((n) => [`--${n}-addr`, "127.0.0.1:0"])], { stdio: ["ignore", "pipe", "pipe"] });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    let stderr = "";
    const started = await new Promise<{ listening: Record<string, number> }>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no start line: ${stderr}`)), 60_000);
      child.stderr.on("data", (d: Buffer) => {
        stderr += d.toString();
        for (const line of stderr.split("\n")) {
          if (!line.includes('"strait-proxy started"')) continue;
          clearTimeout(t);
          resolve(JSON.parse(line));
          return;
        }
      });
      child.once("exit", () => reject(new Error(`exited early: ${stderr}`)));
    });
    try {
      const admin = started.listening.admin;
      const ready = await fetch(`http://127.0.0.1:${admin}/ready`);
      assert.equal(ready.status, 200, await ready.text());
      const dump = (await (await fetch(`http://127.0.0.1:${admin}/config_dump`)).json()) as { config: { origin: string } };
      assert.equal(dump.config.origin, "disk");
    } finally {
      child.kill("SIGTERM");
    }
    assert.equal(await exited, 0, stderr);
    assert.match(stderr, /"shutting down".*"SIGTERM"/);
  });

  test("the bin refuses bad flags with exit code 2 and names the flag", async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        execFile(process.execPath, [join(projectRoot, "bin/strait-proxy.mjs"), ...args], { env: { PATH: process.env.PATH ?? "" } }, (err, _out, stderr) =>
          resolve({ code: err === null ? 0 : typeof err.code === "number" ? err.code : null, stderr }));
      });
    const missing = await run(["--cluster", "c1", "--node", "a"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--control-url/);
    const badAddr = await run(["--control-url", "http://127.0.0.1:1", "--cluster", "c1", "--node", "a", "--admin-addr", "nonsense"]);
    assert.equal(badAddr.code, 2);
    assert.match(badAddr.stderr, /--admin-addr/);
    const unknown = await run(["--frobnicate", "1"]);
    assert.equal(unknown.code, 2);
  });
});
