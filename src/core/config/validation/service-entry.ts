import type { ServiceEntrySpec, ServicePort } from "../kinds/service-entry.ts";
import { checkAlphaWorkloadSelector, checkExportTo, checkSelectorLabels, isCidr, isIpOrCidr, labelsShape, stringListShape } from "./common.ts";
import { fqdnProblem, isHttpProtocol, isIpAddress, isTlsProtocol, parseProtocol, partialWildcardProblem, portNameProblem, portProblem, protocolProblem, wildcardDomainProblem } from "./istio-names.ts";
import type { KindValidator } from "./kind-validator.ts";
import { field } from "./report.ts";
import { arr, int, obj, oneOf, req, str } from "./shape.ts";
import { checkWorkloadEntry, workloadEntryShape } from "./workload-entry.ts";

const shape = obj<ServiceEntrySpec>({
  hosts: req(stringListShape),
  addresses: stringListShape,
  ports: arr(obj<ServicePort>({ number: req(int({ min: 0, max: 4294967295 })), protocol: str(), name: req(str()), targetPort: int({ min: 0, max: 4294967295 }) })),
  location: oneOf(["MESH_EXTERNAL", "MESH_INTERNAL"]),
  resolution: oneOf(["NONE", "STATIC", "DNS", "DNS_ROUND_ROBIN", "DYNAMIC_DNS"]),
  endpoints: arr(workloadEntryShape),
  workloadSelector: obj<{ labels?: Record<string, string> }>({ labels: labelsShape }),
  exportTo: stringListShape,
  subjectAltNames: stringListShape,
});

/** Istio's `ValidateServiceEntry`. */
export const serviceEntryValidator: KindValidator<ServiceEntrySpec> = {
  shape,
  check(spec, ctx) {
    const r = ctx.report;
    const resolution = spec.resolution ?? "NONE";
    const sel = spec.workloadSelector;
    checkAlphaWorkloadSelector(sel, "spec.workloadSelector", r);
    if (sel !== undefined) {
      if (spec.endpoints !== undefined) r.error("spec.workloadSelector", "only one of workloadSelector or endpoints is allowed in a ServiceEntry");
    }
    if (spec.hosts.length === 0) r.error("spec.hosts", "service entry must have at least one host");
    spec.hosts.forEach((h, i) => {
      const p = `spec.hosts[${i}]`;
      if (h === "*") {
        r.error(p, `invalid host ${h}: "*" is not allowed as a ServiceEntry host`);
        return;
      }
      const w = wildcardDomainProblem(h);
      if (w !== undefined) r.error(p, w);
      // Istio accepts a partial wildcard (`*foo.example.com`) on a ServiceEntry, with a warning.
      const partial = partialWildcardProblem(h);
      if (partial !== undefined) r.warn(p, partial);
    });
    let cidr = false;
    spec.addresses?.forEach((a, i) => {
      cidr ||= a.includes("/");
      if (!isIpOrCidr(a)) r.error(`spec.addresses[${i}]`, `${a} is not a valid IP address or CIDR block`);
      else if (isCidr(a) && resolution !== "NONE" && resolution !== "STATIC") r.error(`spec.addresses[${i}]`, `CIDR addresses are allowed only for NONE/STATIC resolution types (got ${resolution})`);
    });
    const numbers = new Map<number, number>();
    const names = new Map<string, number>();
    spec.ports?.forEach((port, i) => {
      const p = `spec.ports[${i}]`;
      const prevName = names.get(port.name);
      if (prevName !== undefined) r.error(`${p}.name`, `service entry port name ${JSON.stringify(port.name)} already defined (spec.ports[${prevName}])`);
      else names.set(port.name, i);
      const prev = numbers.get(port.number);
      if (prev !== undefined) r.error(`${p}.number`, `service entry port ${port.number} already defined (spec.ports[${prev}])`);
      else numbers.set(port.number, i);
      if ((port.targetPort ?? 0) !== 0) {
        const tp = portProblem(port.targetPort!);
        if (tp !== undefined) r.error(`${p}.targetPort`, tp);
      }
      if ((spec.addresses?.length ?? 0) === 0 && (port.protocol === undefined || port.protocol === "" || port.protocol === "TCP")) {
        r.warn(p, "addresses are required for ports serving TCP (or unset) protocol when IP autoallocation is not enabled");
      }
      const n = portNameProblem(port.name);
      if (n !== undefined) r.error(`${p}.name`, n);
      if (port.protocol !== undefined && port.protocol !== "") {
        const pr = protocolProblem(port.protocol);
        if (pr !== undefined) r.error(`${p}.protocol`, pr);
      }
      const pn = portProblem(port.number);
      if (pn !== undefined) r.error(`${p}.number`, pn);
    });
    const servicePorts = new Set(names.keys());
    const endpoints = spec.endpoints ?? [];
    switch (resolution) {
      case "NONE":
        if (endpoints.length > 0) r.error("spec.endpoints", "no endpoints should be provided for resolution type NONE");
        if (sel !== undefined) r.warn("spec.workloadSelector", "workloadSelector should not be set when resolution mode is NONE");
        break;
      case "STATIC":
        endpoints.forEach((ep, i) => checkWorkloadEntry(ep, `spec.endpoints[${i}]`, r, { servicePorts, allowFqdn: false }));
        break;
      case "DNS":
      case "DNS_ROUND_ROBIN":
      case "DYNAMIC_DNS":
        if (endpoints.length === 0 && resolution !== "DYNAMIC_DNS") {
          spec.hosts.forEach((h, i) => {
            if (h !== "*" && fqdnProblem(h) !== undefined) r.error(`spec.hosts[${i}]`, `hosts must be FQDN if no endpoints are provided for resolution mode ${resolution}`);
          });
        }
        if (resolution === "DYNAMIC_DNS" && endpoints.length > 0) r.error("spec.endpoints", "no endpoints should be provided for resolution type DYNAMIC_DNS");
        if (resolution === "DNS_ROUND_ROBIN" && endpoints.length > 1) r.error("spec.endpoints", `there must only be 0 or 1 endpoint for resolution mode ${resolution}`);
        endpoints.forEach((ep, i) => {
          const path = `spec.endpoints[${i}]`;
          const addr = ep.address ?? "";
          if (!isIpAddress(addr) && fqdnProblem(addr) !== undefined) r.error(`${path}.address`, `endpoint address ${JSON.stringify(addr)} is not a valid FQDN or an IP address`);
          checkSelectorLabels(ep.labels, `${path}.labels`, r);
          for (const [name, port] of Object.entries(ep.ports ?? {})) {
            const pp = field(`${path}.ports`, name);
            if (!servicePorts.has(name)) r.error(pp, `endpoint port ${JSON.stringify(name)} is not defined by the service entry`);
            const n = portNameProblem(name);
            if (n !== undefined) r.error(pp, n);
            const pr = portProblem(port);
            if (pr !== undefined) r.error(pp, pr);
          }
        });
        if ((spec.addresses?.length ?? 0) > 0 && spec.hosts.length > 1 && (spec.ports ?? []).some((p) => parseProtocol(p.protocol ?? "") === "TCP")) {
          r.warn("spec.hosts", "service entry can not have more than one host specified simultaneously with address and tcp port");
        }
        break;
    }
    if (resolution !== "NONE" && spec.hosts.length > 1) {
      const bad = (spec.ports ?? []).findIndex((p) => !isHttpProtocol(p.protocol ?? "") && !isTlsProtocol(p.protocol ?? ""));
      if (bad >= 0) r.error(`spec.ports[${bad}].protocol`, "multiple hosts provided with non-HTTP, non-TLS ports");
    }
    checkExportTo(spec.exportTo, r, { namespace: ctx.namespace, serviceEntry: true });
  },
};
