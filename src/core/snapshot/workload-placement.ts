import type { WorkloadEntryResource } from "../config/resource.ts";

/** Labels that place a WorkloadEntry on a node proxy. */
export const CLUSTER_LABEL = "strait.io/cluster";
export const NODE_LABEL = "strait.io/node";

/** The node a WorkloadEntry runs on, from its `strait.io/cluster` + `strait.io/node` labels (metadata first, then spec). */
export function placementOf(we: WorkloadEntryResource): { cluster: string; node: string } | undefined {
  for (const labels of [we.metadata.labels, we.spec.labels]) {
    const cluster = labels?.[CLUSTER_LABEL];
    const node = labels?.[NODE_LABEL];
    if (cluster !== undefined && node !== undefined && cluster !== "" && node !== "") return { cluster, node };
  }
  return undefined;
}

/** `spiffe://<td>/ns/<namespace>/sa/<serviceAccount or "default">`. */
export function workloadSpiffeId(trustDomain: string, namespace: string, serviceAccount: string | undefined): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount === undefined || serviceAccount === "" ? "default" : serviceAccount}`;
}

/** `spiffe://<td>/node/<cluster>/<node>`. */
export function nodeSpiffeId(trustDomain: string, cluster: string, node: string): string {
  return `spiffe://${trustDomain}/node/${cluster}/${node}`;
}
