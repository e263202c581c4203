import type { Kind } from "../core/config/resource.ts";
import { formatAge } from "./output.ts";
import { isRecord, stringAt, valueAtPath } from "./response-shape.ts";

/** One column of `strait get`'s table. */
export interface PrinterColumn {
  header: string;
  value(resource: unknown, nowMs: number): string;
  /** Shown only with `-o wide`. */
  wide?: boolean;
}

const list = (path: string) => (r: unknown): string => {
  const v = valueAtPath(r, path);
  return Array.isArray(v) ? v.map(String).join(",") : typeof v === "string" ? v : "";
};
const field = (path: string) => (r: unknown): string => {
  const v = valueAtPath(r, path);
  return typeof v === "string" || typeof v === "number" ? String(v) : "";
};
const labels = (r: unknown): string => {
  const l = valueAtPath(r, "metadata.labels");
  return isRecord(l) ? Object.entries(l).map(([k, v]) => `${k}=${String(v)}`).join(",") : "";
};

/** Per-kind columns, after Istio's CRD `additionalPrinterColumns` plus a few Strait ones. */
const KIND_COLUMNS: Record<Kind, PrinterColumn[]> = {
  Gateway: [{ header: "HOSTS", value: (r) => serverHosts(r), wide: true }],
  VirtualService: [
    { header: "GATEWAYS", value: list("spec.gateways") },
    { header: "HOSTS", value: list("spec.hosts") },
  ],
  DestinationRule: [
    { header: "HOST", value: field("spec.host") },
    { header: "SUBSETS", value: (r) => subsetNames(r), wide: true },
  ],
  ServiceEntry: [
    { header: "HOSTS", value: list("spec.hosts") },
    { header: "LOCATION", value: field("spec.location") },
    { header: "RESOLUTION", value: field("spec.resolution") },
  ],
  WorkloadEntry: [
    { header: "ADDRESS", value: field("spec.address") },
    { header: "NODE", value: (r) => workloadNode(r), wide: true },
  ],
  Sidecar: [{ header: "SELECTOR", value: (r) => { const l = valueAtPath(r, "spec.workloadSelector.labels"); return isRecord(l) ? Object.entries(l).map(([k, v]) => `${k}=${String(v)}`).join(",") : ""; } }],
  AuthorizationPolicy: [{ header: "ACTION", value: (r) => field("spec.action")(r) || "ALLOW" }],
  PeerAuthentication: [{ header: "MODE", value: field("spec.mtls.mode") }],
  RequestAuthentication: [{ header: "ISSUERS", value: (r) => jwtIssuers(r), wide: true }],
  RateLimitPolicy: [{ header: "TARGETS", value: (r) => list("spec.targetRefs")(r) }],
};

/** Columns for a table of `kind`, namespace column first when listing across namespaces. */
export function columnsFor(kind: Kind, o: { allNamespaces: boolean; wide: boolean }): PrinterColumn[] {
  const cols: PrinterColumn[] = [];
  if (o.allNamespaces) cols.push({ header: "NAMESPACE", value: field("metadata.namespace") });
  cols.push({ header: "NAME", value: field("metadata.name") });
  cols.push(...KIND_COLUMNS[kind]);
  cols.push({ header: "AGE", value: (r, now) => formatAge(stringAt(valueAtPath(r, "metadata"), "creationTimestamp"), now) });
  cols.push({ header: "RESOURCE VERSION", value: field("metadata.resourceVersion"), wide: true });
  cols.push({ header: "LABELS", value: labels, wide: true });
  return cols.filter((c) => o.wide || c.wide !== true);
}

function serverHosts(r: unknown): string {
  const servers = valueAtPath(r, "spec.servers");
  if (!Array.isArray(servers)) return "";
  return [...new Set(servers.flatMap((s) => (isRecord(s) && Array.isArray(s.hosts) ? s.hosts.map(String) : [])))].join(",");
}

function subsetNames(r: unknown): string {
  const subsets = valueAtPath(r, "spec.subsets");
  return Array.isArray(subsets) ? subsets.map((s) => stringAt(s, "name") ?? "").join(",") : "";
}

function jwtIssuers(r: unknown): string {
  const rules = valueAtPath(r, "spec.jwtRules");
  return Array.isArray(rules) ? rules.map((x) => stringAt(x, "issuer") ?? "").join(",") : "";
}

/** `cluster/node` from the `strait.io/cluster` + `strait.io/node` placement labels. */
function workloadNode(r: unknown): string {
  const l = valueAtPath(r, "metadata.labels");
  const cluster = stringAt(l, "strait.io/cluster");
  const node = stringAt(l, "strait.io/node");
  return node === undefined ? "" : cluster === undefined ? node : `${cluster}/${node}`;
}
