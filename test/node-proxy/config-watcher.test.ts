// The proxy's config path against the real control worker: the signed node snapshot is
// long-polled, verified against the bundle's jwt-svid key, swapped in whole and reported
// (`POST /v1/proxies/status`); a snapshot whose signature does not verify (altered in
// flight by a relay between proxy and control plane) is refused and the last good one
// kept; a restart with the control plane stopped comes back from the state directory.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { startControlWorker, type StartedWorker } from "../support/control-worker.ts";
import { createThrowawayCa, type ThrowawayCa } from "../support/throwaway-ca.ts";
import { controlClient } from "../support/control-client.ts";
import { systemClock } from "../../src/core/clock.ts";
import { ControlApi } from "../../src/node-proxy/identity/control-api.ts";
import { SvidManager } from "../../src/node-proxy/identity/svid-manager.ts";
import { StateStore } from "../../src/node-proxy/config/state-store.ts";
import { ConfigStateStore } from "../../src/node-proxy/config/config-state.ts";
import { ConfigWatcher } from "../../src/node-proxy/config/config-watcher.ts";
import type { ConfigView, ProxyLogger } from "../../src/node-proxy/context.ts";

let ca: ThrowawayCa;
let worker: StartedWorker | undefined;
let stateDir: string;
let identity: SvidManager;
let relay: Server;
let relayUrl: URL;
/** When set, the relay alters the payload of snapshot answers (the signature no longer matches). */
let tamper = false;
/** When set, the relay answers snapshot requests with garbage of this kind instead of forwarding. */
let garbage: "html" | "forged" | undefined;
const { apply, joinToken, api } = controlClient<Record<string, any>>(() => worker as StartedWorker, () => ca.adminToken);
const logger: ProxyLogger = { info() {}, warn() {}, error() {} };

const BASE = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 9080, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: reviews}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-1, namespace: shop, labels: {strait.io/cluster: c1, strait.io/node: a}}
spec: {address: 10.0.0.1, serviceAccount: reviews, labels: {app: reviews}}
`;

const workload = (name: string, address: string) => `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${name}, namespace: shop, labels: {strait.io/cluster: c1, strait.io/node: a}}
spec: {address: ${address}, serviceAccount: reviews, labels: {app: reviews}}
`;

function alterJws(jws: string): string {
  const [h, p, s] = jws.split(".");
  const payload = JSON.parse(Buffer.from(p as string, "base64url").toString());
  // Any change to the signed bytes: here, one more field in the payload.
  payload.tampered = true;
  return `${h}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}.${s}`;
}

async function startRelay(target: () => URL | undefined): Promise<void> {
  relay = createServer(async (req, res) => {
    const base = target();
    if (garbage !== undefined && (req.url ?? "").startsWith("/v1/snapshots/nodes/")) {
      req.resume();
      if (garbage === "html") res.writeHead(200, { "content-type": "text/html" }).end("<html>oops</html>");
      else res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ version: 999_999, hash: "0".repeat(64), revision: 1, jws: "e30.e30.AAAA" }));
      return;
    }
    if (base === undefined) {
      res.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string" && k !== "host" && k !== "connection" && k !== "content-length") headers[k] = v; // fetch sets content-length itself
    try {
      const upstream = await fetch(new URL(req.url ?? "/", base), { method: req.method, headers, ...(chunks.length === 0 ? {} : { body: Buffer.concat(chunks) }) });
      let body = Buffer.from(await upstream.arrayBuffer());
      if (tamper && upstream.status === 200 && (req.url ?? "").startsWith("/v1/snapshots/")) {
        const json = JSON.parse(body.toString());
        json.jws = alterJws(json.jws);
        body = Buffer.from(JSON.stringify(json));
      }
      const out: Record<string, string> = {};
      upstream.headers.forEach((v, k) => {
        if (k !== "content-length" && k !== "content-encoding" && k !== "transfer-encoding") out[k] = v;
      });
      res.writeHead(upstream.status, out).end(body);
    } catch {
      res.destroy();
    }
  });
  await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
  relayUrl = new URL(`http://127.0.0.1:${(relay.address() as AddressInfo).port}`);
}

function watcherFor(state: ConfigStateStore): ConfigWatcher {
  let apiClient: ControlApi | undefined;
  apiClient = new ControlApi({ baseUrl: relayUrl, bearer: () => identity.bearer() });
  return new ConfigWatcher({ api: apiClient, node: { cluster: "c1", node: "a" }, state, store: new StateStore(stateDir), bundle: () => identity.bundle(), clock: systemClock, logger, longPollSeconds: 2, backoff: { baseMs: 100, capMs: 500 } });
}

function nextSwap(state: ConfigStateStore, timeoutMs = 20_000): Promise<ConfigView> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("no swap")), timeoutMs);
    const off = state.onSwap((v) => {
      clearTimeout(t);
      off();
      resolve(v);
    });
  });
}

before(async () => {
  ca = await createThrowawayCa();
  worker = await startControlWorker({ vars: { ...ca.vars, SNAPSHOT_LONGPOLL_MAX_SECONDS: "2" } });
  await startRelay(() => worker?.url);
  await apply(BASE);
  stateDir = await mkdtemp(join(tmpdir(), "strait-proxy-config-"));
  let m: SvidManager | undefined;
  m = await SvidManager.start({
    api: new ControlApi({ baseUrl: relayUrl, bearer: () => m?.bearer() }),
    settings: { attestation: { kind: "join-token", token: await joinToken("c1", "a") }, cluster: "c1", node: "a" },
    clock: systemClock,
    store: new StateStore(stateDir),
    logger,
  });
  identity = m;
});

after(async () => {
  identity?.close();
  relay?.close();
  relay?.closeAllConnections();
  await worker?.dispose();
  if (stateDir !== undefined) await rm(stateDir, { recursive: true, force: true });
});

describe("config: long-poll, verify, swap, report, last-known-good", () => {
  const state = new ConfigStateStore(systemClock, logger);
  let watcher: ConfigWatcher;

  test("the first poll applies the verified node snapshot, persists it and reports the version", async () => {
    watcher = watcherFor(state);
    assert.equal(await watcher.pollOnce(), true, JSON.stringify(watcher.status()));
    const v = state.current();
    assert.ok(v);
    assert.equal(v.origin, "control");
    assert.deepEqual(v.snapshot.workloads.map((w) => w.name), ["reviews-1"]);
    assert.equal(v.workloadsByAddress.get("10.0.0.1")?.name, "reviews-1");
    assert.ok(v.servicesByHost.has("reviews.shop.svc.cluster.local") || [...v.servicesByHost.keys()].some((h) => h.startsWith("reviews")), [...v.servicesByHost.keys()].join());
    assert.equal((await stat(join(stateDir, "snapshot.json"))).isFile(), true);
    const status = await api("/v1/proxies/status", { token: ca.adminToken });
    const mine = status.body.proxies.find((p: { node: string }) => p.node === "c1/a");
    assert.equal(mine.appliedVersion, v.version);
    assert.equal(mine.status, "SYNCED");
  });

  test("a config change arrives through the long-poll and is swapped in whole", async () => {
    watcher.start();
    const before = state.current()?.version ?? 0;
    const swapped = nextSwap(state);
    await apply(workload("reviews-2", "10.0.0.2"));
    const v = await swapped;
    assert.ok(v.version > before);
    assert.deepEqual(v.snapshot.workloads.map((w) => w.name).sort(), ["reviews-1", "reviews-2"]);
  });

  test("a snapshot whose signature does not verify is refused; the last good one stays live", async () => {
    const good = state.current();
    assert.ok(good);
    tamper = true;
    await apply(workload("reviews-3", "10.0.0.3"));
    const deadline = Date.now() + 20_000;
    while (watcher.status().unverifiedVersion === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const st = watcher.status();
    assert.ok(st.unverifiedVersion !== undefined && st.unverifiedVersion > good.version, JSON.stringify(st));
    assert.match(st.lastError ?? "", /signature does not verify/);
    assert.equal(state.current(), good, "the live view is the same object: nothing was swapped");
    // Untampered again: the same version now verifies (an unverified head is retried, not blacklisted), then the next one.
    tamper = false;
    await apply(workload("reviews-4", "10.0.0.4"));
    const until = Date.now() + 20_000;
    while (!state.current()?.snapshot.workloads.some((w) => w.name === "reviews-4") && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    const v = state.current() as ConfigView;
    assert.ok(v.version > (st.unverifiedVersion ?? 0));
    assert.deepEqual(v.snapshot.workloads.map((w) => w.name).sort(), ["reviews-1", "reviews-2", "reviews-3", "reviews-4"]);
  });

  test("garbage from the control plane (not JSON, a forged head with a huge version) never replaces or blocks the config", async () => {
    const good = state.current();
    assert.ok(good);
    for (const mode of ["html", "forged"] as const) {
      garbage = mode;
      const before = watcher.status().failures;
      const deadline = Date.now() + 20_000;
      while (watcher.status().failures <= before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.ok(watcher.status().failures > before, `${mode}: the poll failed`);
      assert.equal(state.current(), good, `${mode}: the live view is unchanged`);
    }
    garbage = undefined;
    const swapped = nextSwap(state);
    await apply(workload("reviews-5", "10.0.0.5"));
    const v = await swapped;
    assert.ok(v.version > good.version, "a real version after a forged 999999 still applies");
  });

  test("restart with the control plane stopped: the last good snapshot comes back from disk, verified", async () => {
    const last = state.current();
    assert.ok(last);
    await watcher.close();
    await worker?.dispose();
    worker = undefined;
    const fresh = new ConfigStateStore(systemClock, logger);
    const restarted = watcherFor(fresh);
    assert.equal(await restarted.restore(), true);
    assert.equal(fresh.current()?.version, last.version);
    assert.equal(fresh.current()?.hash, last.hash);
    assert.equal(fresh.current()?.origin, "disk");
    assert.equal(await restarted.pollOnce(), false, "control plane unreachable");
    assert.equal(fresh.current()?.version, last.version, "still serving the last good config");
    assert.equal(restarted.status().connected, false);
    await restarted.close();
  });
});
