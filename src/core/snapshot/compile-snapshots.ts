import type { GatewaySnapshot, NodeRef, NodeSnapshot } from "./snapshot-model.ts";
import { prepareContext, type CompileInput } from "./compile-context.ts";
import { compileGatewaySnapshot } from "./compile-gateway.ts";
import { compileNodeSnapshot } from "./compile-node.ts";
import { nodeSpiffeId, placementOf } from "./workload-placement.ts";
import { compare } from "./ordering.ts";

export interface CompiledSnapshots {
  gateway: GatewaySnapshot;
  /** One per node: attested nodes plus nodes named by WorkloadEntry labels, sorted by cluster/node. */
  nodes: NodeSnapshot[];
}

/** The nodes to compile for: the attested ones plus every node a WorkloadEntry is placed on. */
export function targetNodes(input: CompileInput): NodeRef[] {
  const byKey = new Map<string, NodeRef>();
  const add = (cluster: string, node: string) => {
    byKey.set(`${cluster}/${node}`, { cluster, node, spiffeId: nodeSpiffeId(input.trustDomain, cluster, node) });
  };
  for (const n of input.nodes ?? []) add(n.cluster, n.node);
  for (const r of input.resources) {
    if (r.kind !== "WorkloadEntry") continue;
    const p = placementOf(r);
    if (p !== undefined) add(p.cluster, p.node);
  }
  return [...byKey.values()].sort((a, b) => compare(a.cluster, b.cluster) || compare(a.node, b.node));
}

/**
 * Compiles the whole config into the gateway snapshot and one snapshot per
 * node. Pure and runtime-free: same input, same output, no I/O, no clock.
 *
 * @example
 * const { gateway, nodes } = compileSnapshots({ resources, nodes: [{ cluster: "c1", node: "n1" }], trustDomain: "strait.local" });
 */
export function compileSnapshots(input: CompileInput): CompiledSnapshots {
  const ctx = prepareContext(input);
  return {
    gateway: compileGatewaySnapshot(ctx),
    nodes: targetNodes(input).map((n) => compileNodeSnapshot(ctx, n)),
  };
}
