/**
 * A synthetic mesh for layout tests and the control bench: `n` services, each a ServiceEntry, a
 * WorkloadEntry placed on one of `nodes` nodes and a VirtualService; every 10th is also on the
 * edge Gateway. Namespaces `ns0`..`ns19`.
 */
import type { AnyResource } from "../../../src/core/config/resource.ts";

export function syntheticMesh(n: number, nodes: number): AnyResource[] {
  const out: AnyResource[] = [
    {
      apiVersion: "networking.istio.io/v1",
      kind: "Gateway",
      metadata: { name: "edge", namespace: "ingress" },
      spec: { selector: { istio: "ingressgateway" }, servers: [{ port: { number: 80, name: "http", protocol: "HTTP" }, hosts: ["*.example.com"] }] },
    },
  ];
  for (let i = 0; i < n; i++) {
    const ns = `ns${i % 20}`;
    const name = `svc${i}`;
    out.push(
      {
        apiVersion: "networking.istio.io/v1",
        kind: "ServiceEntry",
        metadata: { name, namespace: ns },
        spec: { hosts: [name], location: "MESH_INTERNAL", resolution: "STATIC", ports: [{ number: 80, name: "http", protocol: "HTTP" }], workloadSelector: { labels: { app: name } } },
      },
      {
        apiVersion: "networking.istio.io/v1",
        kind: "WorkloadEntry",
        metadata: { name: `${name}-1`, namespace: ns, labels: { "strait.io/cluster": "c1", "strait.io/node": `n${i % nodes}` } },
        spec: { address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, serviceAccount: name, labels: { app: name, version: "v1" } },
      },
      {
        apiVersion: "networking.istio.io/v1",
        kind: "VirtualService",
        metadata: { name, namespace: ns },
        spec: {
          hosts: i % 10 === 0 ? [name, `${name}.example.com`] : [name],
          ...(i % 10 === 0 ? { gateways: ["mesh", "ingress/edge"] } : {}),
          http: [
            { match: [{ uri: { prefix: "/v2" } }], route: [{ destination: { host: name, subset: "v2" } }], timeout: "2s" },
            { route: [{ destination: { host: name, subset: "v1" }, weight: 90 }, { destination: { host: name, subset: "v2" }, weight: 10 }] },
          ],
        },
      },
    );
  }
  return out;
}

/** The WorkloadEntry of service `i` with its `http` port mapped to `port` (a one-endpoint change). */
export function withEndpointPort(mesh: readonly AnyResource[], i: number, port: number): AnyResource[] {
  return mesh.map((r) =>
    r.kind === "WorkloadEntry" && r.metadata.name === `svc${i}-1` ? ({ ...r, spec: { ...r.spec, ports: { http: port } } } as AnyResource) : r,
  );
}
