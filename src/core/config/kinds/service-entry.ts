import type { WorkloadEntrySpec } from "./workload-entry.ts";

/** `networking.istio.io` ServiceEntry spec: the mesh's service registry. */
export interface ServiceEntrySpec {
  /** Required; `*` is not allowed. */
  hosts: string[];
  addresses?: string[];
  ports?: ServicePort[];
  location?: "MESH_EXTERNAL" | "MESH_INTERNAL";
  resolution?: "NONE" | "STATIC" | "DNS" | "DNS_ROUND_ROBIN" | "DYNAMIC_DNS";
  /** Inline endpoints; mutually exclusive with `workloadSelector`. */
  endpoints?: WorkloadEntrySpec[];
  /** Selects WorkloadEntries (same namespace) by their `spec.labels`. */
  workloadSelector?: { labels?: Record<string, string> };
  exportTo?: string[];
  subjectAltNames?: string[];
}

export interface ServicePort {
  number: number;
  protocol?: string;
  /** Required and unique (endpoints refer to ports by name). */
  name: string;
  targetPort?: number;
}
