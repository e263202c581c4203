import type { GatewaySnapshot, NodeSnapshot, SourceRef } from "../snapshot/snapshot-model.ts";
import type { HTTPMatchRequest, HTTPRoute } from "../config/kinds/virtual-service.ts";
import type { CompileIssue, RequestFacts } from "./types.ts";

export interface GatewayRouteOptions {
  rootNamespace?: string;
  /** Namespace the gateway's DestinationRule lookups use as the client namespace. */
  gatewayNamespace?: string;
}
export interface MeshRouteOptions {
  rootNamespace?: string;
  sourceLabels?: Readonly<Record<string, string>>;
}
export interface GatewayRouteTable {
  readonly kind: "gateway";
  readonly issues: readonly CompileIssue[];
}
export interface MeshRouteTable {
  readonly kind: "mesh";
  readonly sourceNamespace: string;
  readonly issues: readonly CompileIssue[];
}
export type RouteTable = GatewayRouteTable | MeshRouteTable;
export type RouteLookup =
  | { kind: "route"; route: HTTPRoute; source: SourceRef & { index: number }; match?: HTTPMatchRequest }
  | { kind: "https-redirect"; location: string }
  | { kind: "no-route"; reason: string };

export function compileGatewayRoutes(_snapshot: GatewaySnapshot, _options?: GatewayRouteOptions): GatewayRouteTable {
  throw new Error("not implemented");
}
export function compileMeshRoutes(_snapshot: NodeSnapshot, _sourceNamespace: string, _options?: MeshRouteOptions): MeshRouteTable {
  throw new Error("not implemented");
}
export function lookupRoute(_table: RouteTable, _facts: RequestFacts): RouteLookup {
  throw new Error("not implemented");
}
