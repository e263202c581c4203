/**
 * Helpers for routing tests: Istio YAML through the real parser, validator and
 * snapshot compiler, then the routing compiler. Runtime-free (no node:
 * imports) so the conformance cases can use it in workerd and on Deno too.
 */
import { parseDocuments } from "../../../src/core/config/parse-documents.ts";
import { validateResource } from "../../../src/core/config/validate.ts";
import type { AnyResource } from "../../../src/core/config/resource.ts";
import { compileSnapshots } from "../../../src/core/snapshot/compile-snapshots.ts";
import type { GatewaySnapshot, NodeSnapshot } from "../../../src/core/snapshot/snapshot-model.ts";
import {
  compileGatewayRoutes,
  compileMeshRoutes,
  type GatewayRouteOptions,
  type GatewayRouteTable,
  type MeshRouteOptions,
  type MeshRouteTable,
  type RequestFacts,
} from "../../../src/core/routing/index.ts";

export function resources(yaml: string): AnyResource[] {
  return parseDocuments(yaml).map((doc, i) => {
    const r = validateResource(doc);
    if (!r.ok) throw new Error(`document ${i} is invalid: ${JSON.stringify(r.errors)}`);
    return r.resource;
  });
}

/**
 * Like `resources`, but documents listed in `raw` skip validation: for testing
 * that the routing compiler refuses what a validator might let through.
 */
export function resourcesUnchecked(yaml: string, raw: readonly number[]): AnyResource[] {
  return parseDocuments(yaml).map((doc, i) => {
    if (raw.includes(i)) return doc as unknown as AnyResource;
    const r = validateResource(doc);
    if (!r.ok) throw new Error(`document ${i} is invalid: ${JSON.stringify(r.errors)}`);
    return r.resource;
  });
}

export function gatewaySnapshot(yaml: string): GatewaySnapshot {
  return compileSnapshots({ resources: resources(yaml), trustDomain: "strait.local" }).gateway;
}

export function gatewayTable(yaml: string, options?: GatewayRouteOptions): GatewayRouteTable {
  return compileGatewayRoutes(gatewaySnapshot(yaml), options);
}

/** The snapshot of node `c1/n1` (the test YAML places a client workload there). */
export function nodeSnapshot(yaml: string): NodeSnapshot {
  const { nodes } = compileSnapshots({ resources: resources(yaml), nodes: [{ cluster: "c1", node: "n1" }], trustDomain: "strait.local" });
  const n = nodes.find((x) => x.node.cluster === "c1" && x.node.node === "n1");
  if (n === undefined) throw new Error("no snapshot for c1/n1");
  return n;
}

export function meshTable(yaml: string, sourceNamespace: string, options?: MeshRouteOptions): MeshRouteTable {
  return compileMeshRoutes(nodeSnapshot(yaml), sourceNamespace, options);
}

/** A request with defaults: GET http://shop.example.com:80/. */
export function req(p: Partial<Omit<RequestFacts, "headers">> & { headers?: Record<string, string> } = {}): RequestFacts {
  const headers = new Map<string, string>();
  for (const [k, v] of Object.entries(p.headers ?? {})) headers.set(k.toLowerCase(), v);
  const out: RequestFacts = {
    method: p.method ?? "GET",
    scheme: p.scheme ?? "http",
    authority: p.authority ?? "shop.example.com",
    path: p.path ?? "/",
    port: p.port ?? 80,
    headers,
  };
  if (p.sourceIp !== undefined) out.sourceIp = p.sourceIp;
  if (p.claims !== undefined) out.claims = p.claims;
  return out;
}

/** Deterministic rng (mulberry32). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An rng that returns the given values in turn (then repeats the last). */
export function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)]!;
}

export const GATEWAY = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: ingress}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*.example.com"]
`;

/** A ServiceEntry for `<name>.<ns>.svc.cluster.local` on port 8080 with inline endpoints. */
export function service(name: string, ns: string, endpoints: { address: string; labels?: Record<string, string> }[] = [{ address: "10.0.0.1" }], ports = "[{number: 8080, name: http, protocol: HTTP}]"): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: ${ns}}
spec:
  hosts: [${name}.${ns}.svc.cluster.local]
  location: MESH_INTERNAL
  ports: ${ports}
  resolution: STATIC
  endpoints: ${JSON.stringify(endpoints)}
`;
}

/** A VirtualService bound to ingress/edge for shop.example.com with the given `http:` body (indented two spaces). */
export function gatewayVs(http: string, name = "shop", hosts = ["shop.example.com"], created = "2024-01-01T00:00:00Z"): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}, namespace: shop, creationTimestamp: "${created}"}
spec:
  hosts: ${JSON.stringify(hosts)}
  gateways: [ingress/edge]
  http:
${http}`;
}

export function docs(...parts: string[]): string {
  return parts.join("---\n");
}
