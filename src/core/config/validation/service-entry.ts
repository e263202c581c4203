import type { ServiceEntrySpec, ServicePort } from "../kinds/service-entry.ts";
import { checkDns1123Label, checkExportTo, checkHost, checkSelectorLabels, isCidr, isIpOrCidr, labelsShape, portNumberShape, stringListShape } from "./common.ts";
import type { KindValidator } from "./kind-validator.ts";
import { field } from "./report.ts";
import { arr, int, obj, oneOf, req, str } from "./shape.ts";
import { checkWorkloadEntry, workloadEntryShape } from "./workload-entry.ts";

const shape = obj<ServiceEntrySpec>({
  hosts: req(stringListShape),
  addresses: stringListShape,
  ports: arr(obj<ServicePort>({ number: req(portNumberShape), protocol: str(), name: str(), targetPort: int({ min: 1, max: 65535 }) })),
  location: oneOf(["MESH_EXTERNAL", "MESH_INTERNAL"]),
  resolution: oneOf(["NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS"]),
  endpoints: arr(workloadEntryShape),
  workloadSelector: obj<{ labels?: Record<string, string> }>({ labels: labelsShape }),
  exportTo: stringListShape,
  subjectAltNames: stringListShape,
});

const PROTOCOLS = ["HTTP", "HTTPS", "GRPC", "GRPC-WEB", "HTTP2", "MONGO", "TCP", "TLS", "UDP", "MYSQL", "REDIS"];

export const serviceEntryValidator: KindValidator<ServiceEntrySpec> = {
  shape,
  check(spec, ctx) {
    const r = ctx.report;
    const resolution = spec.resolution ?? "NONE";
    if (spec.hosts.length === 0) r.error("spec.hosts", "at least one host is required");
    spec.hosts.forEach((h, i) => {
      if (h === "*") r.error(`spec.hosts[${i}]`, `"*" is not allowed as a ServiceEntry host`);
      else checkHost(h, `spec.hosts[${i}]`, r, { allowWildcard: true });
      if (h.startsWith("*") && (resolution === "DNS" || resolution === "DNS_ROUND_ROBIN") && (spec.endpoints?.length ?? 0) === 0) {
        r.error(`spec.hosts[${i}]`, `wildcard host needs endpoints with ${resolution} resolution`);
      }
    });
    spec.addresses?.forEach((a, i) => {
      if (!isIpOrCidr(a)) r.error(`spec.addresses[${i}]`, `must be an IP address or CIDR (got ${JSON.stringify(a)})`);
      else if (isCidr(a) && resolution !== "NONE" && resolution !== "STATIC") r.error(`spec.addresses[${i}]`, `CIDR addresses are only allowed with NONE or STATIC resolution (got ${resolution})`);
    });
    const numbers = new Map<number, number>();
    const names = new Map<string, number>();
    spec.ports?.forEach((p, i) => {
      const path = `spec.ports[${i}]`;
      const prev = numbers.get(p.number);
      if (prev !== undefined) r.error(`${path}.number`, `duplicate port ${p.number} (also spec.ports[${prev}])`);
      else numbers.set(p.number, i);
      if (p.name !== undefined) {
        checkDns1123Label(p.name, `${path}.name`, r);
        const prevName = names.get(p.name);
        if (prevName !== undefined) r.error(`${path}.name`, `duplicate port name ${JSON.stringify(p.name)} (also spec.ports[${prevName}])`);
        else names.set(p.name, i);
      }
      if (p.protocol !== undefined && !PROTOCOLS.includes(p.protocol.toUpperCase())) r.error(`${path}.protocol`, `must be one of ${PROTOCOLS.join(", ")} (got ${JSON.stringify(p.protocol)})`);
    });
    checkExportTo(spec.exportTo, r);
    const endpoints = spec.endpoints ?? [];
    if (endpoints.length > 0 && spec.workloadSelector !== undefined) r.error("spec.workloadSelector", "endpoints and workloadSelector are mutually exclusive");
    checkSelectorLabels(spec.workloadSelector?.labels, "spec.workloadSelector.labels", r);
    if (resolution === "NONE" && endpoints.length > 0) r.error("spec.endpoints", "endpoints are not allowed with NONE resolution");
    if (resolution === "DNS_ROUND_ROBIN" && endpoints.length > 1) r.error("spec.endpoints", `DNS_ROUND_ROBIN allows at most 1 endpoint (got ${endpoints.length})`);
    endpoints.forEach((ep, i) => {
      const path = `spec.endpoints[${i}]`;
      checkWorkloadEntry(ep, path, r, { requireIp: resolution === "STATIC" });
      for (const portName of Object.keys(ep.ports ?? {})) {
        if (!names.has(portName)) r.error(field(`${path}.ports`, portName), `port name ${JSON.stringify(portName)} is not defined in spec.ports`);
      }
    });
  },
};
