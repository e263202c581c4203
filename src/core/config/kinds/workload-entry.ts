/** `networking.istio.io` WorkloadEntry spec: a non-Kubernetes workload (and the inline endpoints of a ServiceEntry). */
export interface WorkloadEntrySpec {
  /** IP, DNS name or `unix://` path; may be omitted when `network` is set. */
  address?: string;
  /** Named ports (`{http: 8080}`) mapping the ServiceEntry port names to workload ports. */
  ports?: Record<string, number>;
  labels?: Record<string, string>;
  network?: string;
  locality?: string;
  weight?: number;
  /** Identity: `spiffe://<td>/ns/<namespace>/sa/<serviceAccount or "default">`. */
  serviceAccount?: string;
}
