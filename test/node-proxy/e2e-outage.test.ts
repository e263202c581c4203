/**
 * Control-plane outage: with the control worker stopped, traffic between two proxies keeps
 * flowing; a proxy restarted during the outage serves again from its state directory; when the
 * control plane is back (same state, same URL), a new config is applied.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { TestMesh, eventually, startEcho, viaProxy, type EchoWorkload, type ProxyNode } from "../support/node-proxy-mesh.ts";

const HOST = "echo.shop.svc.cluster.local";
let mesh: TestMesh;
let a: ProxyNode;
let b: ProxyNode;
let echo: EchoWorkload;

before(async () => {
  mesh = await TestMesh.start();
  echo = await startEcho("echo");
  a = await mesh.startNode("c1", "a");
  b = await mesh.startNode("c1", "b");
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
  await eventually("config applied on both nodes", () => {
    const va = a.proxy.config.current();
    const vb = b.proxy.config.current();
    return va?.snapshot.outbound.some((s) => s.host === HOST) === true && vb?.snapshot.workloads.some((w) => w.name === "echo") === true;
  }, 60_000);
});

after(async () => {
  await mesh?.close();
  await echo?.close();
});

async function burst(n: number, path: string): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < n; i++) statuses.push((await viaProxy(a.port("outbound"), HOST, path)).status);
  return statuses;
}

test("traffic flows, keeps flowing with the control plane stopped, and after a proxy restart from disk; a new config applies when it is back", async () => {
  assert.deepEqual(await burst(5, "/before"), [200, 200, 200, 200, 200]);

  await mesh.stopControl();
  assert.deepEqual(await burst(10, "/during-outage"), Array(10).fill(200), "control plane down: traffic keeps flowing");

  // Restart node a while the control plane is down: identity and snapshot come from its state dir.
  const stateDir = a.stateDir;
  await mesh.stopNode(a);
  a = await mesh.startNode("c1", "a", { stateDir });
  const view = a.proxy.config.current();
  assert.ok(view, "the restarted proxy has a config");
  assert.equal(view.origin, "disk");
  assert.deepEqual(await burst(5, "/after-restart"), Array(5).fill(200), "the restarted proxy serves from disk");

  await mesh.startControl();
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
});
