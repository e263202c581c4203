/**
 * Two node proxies on loopback with a static mesh: node `a` runs the client workload `sleep`
 * (127.0.0.1, the load generator), node `b` runs `echo` (127.0.0.1:<upstream port>). A call to
 * `http://echo.shop.svc.cluster.local` through a's outbound listener crosses HBONE (mutual TLS
 * 1.3) to b's inbound and reaches the upstream.
 */
import type { AddressInfo } from "node:net";
import { startDataPlane } from "../../src/node-proxy/data-plane.ts";
import type { ProxyMetrics } from "../../src/node-proxy/context.ts";
import { createStaticCa, nodeSnapshots, parseResources, staticNode, type StaticCa, type StaticNode } from "./static-mesh.ts";

export function meshYaml(o: { upstreamPort: number; hbonePortB: number; extraServices?: number }): string {
  let yaml = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: echo, namespace: shop}
spec:
  hosts: [echo.shop.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: echo}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: echo-1, namespace: shop, labels: {strait.io/cluster: c1, strait.io/node: b}}
spec: {address: 127.0.0.1, ports: {http: ${o.upstreamPort}}, labels: {app: echo, strait.io/hbone-port: "${o.hbonePortB}"}, serviceAccount: echo}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: sleep, namespace: shop, labels: {strait.io/cluster: c1, strait.io/node: a}}
spec: {address: 127.0.0.1, serviceAccount: sleep}
`;
  for (let i = 0; i < (o.extraServices ?? 0); i++) {
    yaml += `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: svc-${i}, namespace: shop}
spec:
  hosts: [svc-${i}.shop.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 10.1.${Math.floor(i / 250)}.${(i % 250) + 1}, labels: {app: svc-${i}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: svc-${i}, namespace: shop}
spec:
  hosts: [svc-${i}.shop.svc.cluster.local]
  http: [{match: [{uri: {prefix: /v2}}], route: [{destination: {host: svc-${i}.shop.svc.cluster.local}}]}, {route: [{destination: {host: svc-${i}.shop.svc.cluster.local}}]}]
`;
  }
  return yaml;
}

export interface TwoNodes {
  ca: StaticCa;
  a: StaticNode;
  b: StaticNode;
  outbound: AddressInfo;
  close(): Promise<void>;
}

export async function startTwoNodes(o: { upstreamPort: number; extraServices?: number; metrics?: () => ProxyMetrics }): Promise<TwoNodes> {
  const ca = await createStaticCa();
  // First pass: b's HBONE port is not known until b listens.
  const first = nodeSnapshots(parseResources(meshYaml({ upstreamPort: o.upstreamPort, hbonePortB: 15008, ...(o.extraServices ? { extraServices: o.extraServices } : {}) })), ca.trustDomain);
  const a = await staticNode({ ca, cluster: "c1", node: "a", snapshot: first.get("c1/a")!, ...(o.metrics ? { metrics: o.metrics() } : {}) });
  const b = await staticNode({ ca, cluster: "c1", node: "b", snapshot: first.get("c1/b")!, ...(o.metrics ? { metrics: o.metrics() } : {}) });
  const dpA = await startDataPlane(a.ctx);
  const dpB = await startDataPlane(b.ctx);
  const hboneB = b.listening.get("hbone")!.port;
  const second = nodeSnapshots(parseResources(meshYaml({ upstreamPort: o.upstreamPort, hbonePortB: hboneB, ...(o.extraServices ? { extraServices: o.extraServices } : {}) })), ca.trustDomain);
  await a.config.set(second.get("c1/a")!);
  await b.config.set(second.get("c1/b")!);
  return {
    ca,
    a,
    b,
    outbound: a.listening.get("outbound")!,
    async close() {
      await dpA.close();
      await dpB.close();
      await a.ctx.hbone.connector.close();
      await b.ctx.hbone.connector.close();
    },
  };
}
