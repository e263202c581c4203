/** Public surface of the runtime-free snapshot compiler. */
export * from "./snapshot-model.ts";
export * from "./sha256.ts";
export * from "./snapshot-layout.ts";
export * from "./kv-layout.ts";
export * from "./snapshot-reader.ts";
export { compileSnapshots, targetNodes, type CompiledSnapshots } from "./compile-snapshots.ts";
export { prepareContext, DEFAULT_ROOT_NAMESPACE, type CompileInput, type CompileContext } from "./compile-context.ts";
export { compileGatewaySnapshot } from "./compile-gateway.ts";
export { compileNodeSnapshot } from "./compile-node.ts";
export { CLUSTER_LABEL, NODE_LABEL, placementOf, workloadSpiffeId, nodeSpiffeId } from "./workload-placement.ts";
export { isCatchAllRoute, isCatchAllMatch } from "./route-binding.ts";
export { resolveDestinationRule, type DestinationRuleQuery, type EffectiveDestinationRule } from "./destination-rule-lookup.ts";
