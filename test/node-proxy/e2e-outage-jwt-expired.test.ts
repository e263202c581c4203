/**
 * A control-plane outage LONGER than the node's JWT-SVID lifetime (issue 8, "regardless of how
 * long the outage was"): two join-token proxies on a controllable clock; the control worker is
 * stopped, the proxies' clock moves 10 minutes on (the JWT-SVID's 5 minutes have run out, the
 * 1-hour X.509-SVIDs have not); traffic keeps flowing; a proxy restarted then comes back from
 * disk; when the control plane is back the node renews by proof of possession of its X.509-SVID
 * key alone and a new config applies. Then, with the X.509-SVID expired too, a join-token node
 * stops with a log line telling the operator what to do.
 *
 * The control worker runs on the real clock (its certificates are issued now); the proxies' clock
 * is now + an offset the test moves, so nothing sleeps for minutes and nothing depends on the date.
 * (While the proxies are 10 minutes ahead, the control plane comes back issuing 1-hour JWT-SVIDs,
 * so that what it issues on its real clock is valid on theirs.)
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TestMesh, eventually, startEcho, viaProxy, type EchoWorkload } from "../support/node-proxy-mesh.ts";
import { callApi, mintJoinToken } from "../support/control-client.ts";
import { startControlWorker } from "../support/control-worker.ts";
import { startProxy, type RunningProxy } from "../../src/node-proxy/main.ts";
import type { ProxyLogger, ProxySettings } from "../../src/node-proxy/context.ts";
import type { Clock } from "../../src/core/clock.ts";

const HOST = "echo.shop.svc.cluster.local";
const ANY = { host: "127.0.0.1", port: 0 };
const MINUTE = 60_000;

/** The proxies' clock: the real time plus an offset the test moves forward. */
class OffsetClock implements Clock {
  offset = 0;
  now(): number {
    return Date.now() + this.offset;
  }
}

interface Node {
  name: string;
  stateDir: string;
  proxy: RunningProxy;
  logs: { level: string; message: string; fields?: Record<string, unknown> }[];
  port(name: string): number;
}

const clock = new OffsetClock();
let mesh: TestMesh;
let echo: EchoWorkload;
let a: Node;
let b: Node;
const running = new Set<Node>();
let persistDir: string;

async function startNode(name: string, stateDir?: string): Promise<Node> {
  const dir = stateDir ?? (await mkdtemp(join(tmpdir(), `strait-proxy-jwt-expired-${name}-`)));
  const token = stateDir === undefined ? await mintJoinToken(mesh.worker!, mesh.ca.adminToken, "c1", name) : "already-attested-and-spent";
  const settings: ProxySettings = {
    controlUrl: mesh.controlUrl,
    cluster: "c1",
    node: name,
    attestation: { kind: "join-token", token },
    listen: { outbound: ANY, inboundPlaintext: ANY, hbone: ANY, edgeIngress: ANY, admin: ANY, metrics: ANY },
    stateDir: dir,
    longPollSeconds: 5,
    hbonePeerPort: 15008,
    accessLog: "off",
  };
  const logs: Node["logs"] = [];
  const logger: ProxyLogger = {
    info: (message, fields) => logs.push({ level: "info", message, ...(fields === undefined ? {} : { fields }) }),
    warn: (message, fields) => logs.push({ level: "warn", message, ...(fields === undefined ? {} : { fields }) }),
    error: (message, fields) => logs.push({ level: "error", message, ...(fields === undefined ? {} : { fields }) }),
  };
  const proxy = await startProxy(settings, { logger, clock });
  const n: Node = {
    name,
    stateDir: dir,
    proxy,
    logs,
    port: (p) => {
      const addr = proxy.listening.get(p);
      assert.ok(addr, `${name} listens on ${p}`);
      return addr.port;
    },
  };
  running.add(n);
  return n;
}

async function stopNode(n: Node): Promise<void> {
  running.delete(n);
  await n.proxy.close();
}

before(async () => {
  mesh = await TestMesh.start();
  echo = await startEcho("echo");
  a = await startNode("a");
  b = await startNode("b");
  await mesh.apply(`apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: sleep, namespace: shop, labels: {strait.io/cluster: c1, strait.io/node: a}}
spec: {address: 127.0.0.1, serviceAccount: sleep}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: echo, namespace: shop, labels: {strait.io/cluster: c1, strait.io/node: b}}
spec: {address: 127.0.0.1, serviceAccount: echo, ports: {http: ${echo.port}}, labels: {app: echo, strait.io/hbone-port: "${b.port("hbone")}"}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: echo, namespace: shop}
spec:
  hosts: [${HOST}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: echo}}
`);
  await eventually(
    "config applied on both nodes",
    () => a.proxy.config.current()?.snapshot.outbound.some((s) => s.host === HOST) === true && b.proxy.config.current()?.snapshot.workloads.some((w) => w.name === "echo") === true,
    60_000,
  );
});

after(async () => {
  for (const n of [...running]) await stopNode(n).catch(() => undefined);
  await mesh?.close();
  await echo?.close();
});

async function burst(n: number, path: string): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) statuses.push((await viaProxy(a.port("outbound"), HOST, path)).status);
  return statuses;
}

/** {@link TestMesh.startControl} with extra vars: the same persisted state, the same relay URL. */
async function startControlWithVars(vars: Record<string, string>): Promise<void> {
  mesh.worker = await startControlWorker({ vars: { ...mesh.ca.vars, ...vars }, persistDir });
  mesh.control.target = { host: mesh.worker.url.hostname, port: Number(mesh.worker.url.port) };
}

function nodeCert(n: Node) {
  return n.proxy.identity.credentialsFor(n.proxy.identity.nodeSpiffeId());
}

test("outage longer than the JWT-SVID's life: traffic flows, a restart serves from disk, and on return the node renews by X.509 proof of possession and a new config applies", async () => {
  assert.deepEqual(await burst(5, "/before"), Array(5).fill(200));
  const before = nodeCert(a);
  assert.ok(before);
  assert.ok(a.proxy.identity.bearer(), "a JWT-SVID for the control API before the outage");

  persistDir = mesh.worker!.persistDir;
  await mesh.stopControl();
  clock.offset += 10 * MINUTE;
  assert.equal(a.proxy.identity.bearer(), undefined, "the 5-minute JWT-SVID has expired on the proxies' clock");
  assert.ok(nodeCert(a), "the 1-hour node X.509-SVID is still valid");
  assert.deepEqual(await burst(10, "/during-outage"), Array(10).fill(200), "control plane down past the JWT-SVID's life: traffic keeps flowing");

  // Restart node a during the outage: identity (with its expired JWT-SVID) and snapshot come from disk.
  const stateDir = a.stateDir;
  await stopNode(a);
  a = await startNode("a", stateDir);
  assert.equal(a.proxy.config.current()?.origin, "disk");
  assert.equal(a.proxy.identity.bearer(), undefined);
  assert.deepEqual(await burst(5, "/after-restart"), Array(5).fill(200), "the restarted proxy serves from disk");

  // The control plane comes back on the same state. Its clock is the real one and cannot be moved,
  // while the proxies' clock is 10 minutes ahead: it issues 1-hour JWT-SVIDs from now on, so the
  // fresh ones are valid on the proxies' clock too (as they would be with both clocks 10 minutes on).
  await startControlWithVars({ JWT_SVID_TTL_SECONDS: "3600" });
  await mesh.apply(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: shop}
spec:
  hosts: [${HOST}]
  http:
  - match: [{uri: {prefix: /maintenance}}]
    directResponse: {status: 418, body: {string: "under maintenance"}}
  - route: [{destination: {host: ${HOST}}}]
`);
  const applied = await eventually(
    "the new config applies on the restarted proxy",
    async () => {
      const r = await viaProxy(a.port("outbound"), HOST, "/maintenance");
      return r.status === 418 ? r : undefined;
    },
    90_000,
  );
  assert.equal(applied.body, "under maintenance");
  assert.equal(a.proxy.config.current()?.origin, "control");
  assert.equal((await viaProxy(a.port("outbound"), HOST, "/normal")).status, 200);

  // The node renewed: a new X.509-SVID and a fresh JWT-SVID, by proof of possession alone.
  const after = nodeCert(a);
  assert.ok(after);
  assert.notEqual(after.serial, before.serial, "the node X.509-SVID was renewed");
  assert.ok(a.proxy.identity.bearer(), "a fresh JWT-SVID");
  const audit = await callApi<{ events: { actor: string; detail: { proof?: string } }[] }>(
    mesh.worker!,
    `/v1/audit?target=${encodeURIComponent(a.proxy.identity.nodeSpiffeId())}&action=identity.renew`,
    { token: mesh.ca.adminToken },
  );
  assert.equal(audit.status, 200, audit.text);
  assert.ok(audit.body.events.some((e) => e.detail.proof === "x509-pop"), audit.text);
  // And node b, never restarted, is back on the control plane too.
  await eventually("node b applied the new config", () => b.proxy.config.current()?.origin === "control" && b.proxy.identity.bearer() !== undefined, 90_000);
});

test("with the X.509-SVID expired too, a join-token node cannot renew: it fails closed and logs what the operator must do", async () => {
  const cert = nodeCert(a);
  assert.ok(cert);
  clock.offset += cert.notAfter - clock.now() + MINUTE;
  assert.equal(nodeCert(a), undefined, "the expired node identity is withdrawn");
  // A renewal already in flight when the clock moved may finish first; the next attempt is refused locally.
  const line = await eventually("the operator log line", async () => {
    await a.proxy.identity.renewNode();
    return a.logs.find((l) => l.level === "error" && l.message === "node identity lost: operator action needed");
  });
  assert.match(String(line.fields?.error), /X\.509-SVID expired at .*create a new join token \(strait join-token create\)/);
  assert.equal(nodeCert(a), undefined, "still no node identity: nothing was renewed");
});
