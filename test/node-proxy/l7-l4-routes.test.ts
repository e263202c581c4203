/**
 * VirtualService `tcp[]` and `tls[]` routes for CONNECT tunnels, end to end through two proxies
 * and the real control worker: port and destinationSubnets matches, weighted subsets, sniHosts on a
 * TLS port, a route to another service, and the default cluster when nothing matches.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { TestMesh, eventually, proxyAuthorization, startTcpEcho, type ProxyNode } from "../support/node-proxy-mesh.ts";

const NS = "shop";
const host = (n: string) => `${n}.${NS}.svc.cluster.local`;
let mesh: TestMesh;
let a: ProxyNode;
let b: ProxyNode;
const echo: Record<string, { port: number; close(): Promise<void> }> = {};

function we(name: string, port: number, labels: Record<string, string>, portNames: string[], hb: number): string {
  const ports = Object.fromEntries(portNames.map((n) => [n, port]));
  return `---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${name}, namespace: ${NS}, labels: {strait.io/cluster: c1, strait.io/node: b}}
spec: {address: 127.0.0.1, serviceAccount: ${labels.app}, ports: ${JSON.stringify(ports)}, labels: ${JSON.stringify({ ...labels, "strait.io/hbone-port": String(hb) })}}
`;
}

/** Opens a CONNECT tunnel through proxy a, writes one line, returns what came back (or the refusal). */
function tunnel(target: string, line = "ping"): Promise<string> {
  const s = net.connect({ host: "127.0.0.1", port: a.port("outbound") });
  return new Promise<string>((resolve, reject) => {
    let buf = "";
    let sent = false;
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`tunnel to ${target} timed out: ${JSON.stringify(buf)}`));
    }, 10_000);
    const done = (text: string) => {
      clearTimeout(timer);
      s.destroy();
      resolve(text);
    };
    s.on("data", (d: Buffer) => {
      buf += d.toString("latin1");
      const head = buf.indexOf("\r\n\r\n");
      if (head < 0) return;
      if (!/^HTTP\/1\.1 200/.test(buf)) return done(buf.slice(0, head));
      if (!sent) {
        sent = true;
        s.write(`${line}\n`);
      }
      const body = buf.slice(head + 4);
      if (body.endsWith("\n")) done(body.trim());
    });
    s.on("close", () => done(buf));
    s.on("error", () => done(buf));
    s.write(`CONNECT ${target} HTTP/1.1\r\nhost: ${target}\r\nproxy-authorization: ${proxyAuthorization("sleep.shop")}\r\n\r\n`);
  });
}

before(async () => {
  mesh = await TestMesh.start();
  for (const n of ["db-v1", "db-v2", "dbalt", "secure"]) echo[n] = await startTcpEcho(n);
  a = await mesh.startNode("c1", "a");
  b = await mesh.startNode("c1", "b");
  const hb = b.port("hbone");
  await mesh.apply(
    [
      `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: sleep, namespace: ${NS}, labels: {strait.io/cluster: c1, strait.io/node: a}}
spec: {address: 127.0.0.1, serviceAccount: sleep}
`,
      we("db-v1", echo["db-v1"]!.port, { app: "db", version: "v1" }, ["tcp-main", "tcp-admin", "tcp-other"], hb),
      we("db-v2", echo["db-v2"]!.port, { app: "db", version: "v2" }, ["tcp-main", "tcp-admin", "tcp-other"], hb),
      we("dbalt", echo.dbalt!.port, { app: "dbalt" }, ["tcp-main"], hb),
      we("secure", echo.secure!.port, { app: "secure" }, ["tls-a", "tls-b"], hb),
      `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: db, namespace: ${NS}}
spec:
  hosts: [${host("db")}]
  addresses: [240.240.1.7]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 5432, name: tcp-main, protocol: TCP}, {number: 5433, name: tcp-admin, protocol: TCP}, {number: 5434, name: tcp-other, protocol: TCP}]
  workloadSelector: {labels: {app: db}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: dbalt, namespace: ${NS}}
spec:
  hosts: [${host("dbalt")}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 5432, name: tcp-main, protocol: TCP}]
  workloadSelector: {labels: {app: dbalt}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: secure, namespace: ${NS}}
spec:
  hosts: [${host("secure")}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 443, name: tls-a, protocol: TLS}, {number: 8443, name: tls-b, protocol: TLS}]
  workloadSelector: {labels: {app: secure}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: db, namespace: ${NS}}
spec:
  host: ${host("db")}
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db, namespace: ${NS}}
spec:
  hosts: [${host("db")}]
  tcp:
  - match: [{port: 5432, sourceNamespace: elsewhere}]
    route: [{destination: {host: dbalt}}]
  - match: [{port: 5432, destinationSubnets: [240.240.1.0/24]}]
    route:
    - {destination: {host: db, subset: v1}, weight: 75}
    - {destination: {host: db, subset: v2}, weight: 25}
  - match: [{port: 5433}]
    route: [{destination: {host: dbalt, port: {number: 5432}}}]
  - match: [{port: 5434, destinationSubnets: [10.0.0.0/8]}]
    route: [{destination: {host: dbalt}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: secure, namespace: ${NS}}
spec:
  hosts: [${host("secure")}, secure-alias.example.com]
  tls:
  - match: [{port: 443, sniHosts: [secure-alias.example.com]}]
    route: [{destination: {host: db, subset: v2, port: {number: 5432}}}]
  - match: [{port: 443, sniHosts: [${host("secure")}]}]
    route: [{destination: {host: dbalt, port: {number: 5432}}}]
`,
    ].join(""),
  );
  await eventually("config applied", () => {
    const va = a.proxy.config.current();
    return va?.snapshot.routes.some((r) => r.host === host("secure")) === true && va.snapshot.routes.some((r) => r.host === host("db")) && va.snapshot.destinationRules.length > 0 && (b.proxy.config.current()?.snapshot.workloads.length ?? 0) >= 4;
  }, 60_000);
});

after(async () => {
  await mesh?.close();
  for (const e of Object.values(echo)) await e.close();
});

test("tcp[]: port + destinationSubnets match splits tunnels 75/25 between subsets", async () => {
  const n = 200;
  const seen = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const r = await tunnel(`${host("db")}:5432`);
    const who = r.split(":")[0]!;
    seen.set(who, (seen.get(who) ?? 0) + 1);
  }
  assert.deepEqual([...seen.keys()].sort(), ["db-v1", "db-v2"], JSON.stringify([...seen]));
  const v1 = (seen.get("db-v1") ?? 0) / n;
  assert.ok(Math.abs(v1 - 0.75) <= 0.1, `v1 share ${v1}`);
});

test("tcp[]: a port match routes to another service's port; the sourceNamespace route did not apply", async () => {
  for (let i = 0; i < 5; i++) assert.equal(await tunnel(`${host("db")}:5433`, "hi"), "dbalt:hi");
});

test("tcp[]: no route matches (destinationSubnets elsewhere): the service's own endpoints", async () => {
  const seen = new Set<string>();
  for (let i = 0; i < 10; i++) seen.add((await tunnel(`${host("db")}:5434`)).split(":")[0]!);
  assert.deepEqual([...seen].sort(), ["db-v1", "db-v2"]);
});

test("tls[]: sniHosts on the TLS port picks the route; another port keeps the default cluster", async () => {
  assert.equal(await tunnel(`${host("secure")}:443`, "x"), "dbalt:x");
  assert.equal(await tunnel(`${host("secure")}:8443`, "y"), "secure:y");
  const m = await a.metricsText();
  assert.match(m, new RegExp(`istio_tcp_connections_opened_total\\{[^}]*destination_service="${host("dbalt").replace(/\./g, "\\.")}"`));
});
