import type { WorkloadEntrySpec } from "../kinds/workload-entry.ts";
import { checkSelectorLabels, labelsShape } from "./common.ts";
import { fqdnProblem, isIpAddress, portNameProblem, portProblem, unixAddressProblem } from "./istio-names.ts";
import type { KindValidator } from "./kind-validator.ts";
import { field, type Report } from "./report.ts";
import { int, map, obj, str, type ObjectShape } from "./shape.ts";

export const workloadEntryShape: ObjectShape = obj<WorkloadEntrySpec>({
  address: str(),
  ports: map(int({ min: 0, max: 4294967295 })),
  labels: labelsShape,
  network: str(),
  locality: str(),
  weight: int({ min: 0, max: 4294967295 }),
  serviceAccount: str(),
});

const UNIX = "unix://";

/**
 * Istio's `validateWorkloadEntry`, for a WorkloadEntry (`servicePorts`
 * undefined, DNS names allowed) and for ServiceEntry endpoints (the SE's port
 * names; STATIC resolution wants IPs or `unix://`).
 */
export function checkWorkloadEntry(we: WorkloadEntrySpec, path: string, r: Report, o: { servicePorts?: ReadonlySet<string>; allowFqdn: boolean }): void {
  const addr = we.address ?? "";
  const ap = field(path, "address");
  if (addr === "") {
    if ((we.network ?? "") === "") {
      r.error(ap, "address is required (unless network is set)");
      return;
    }
    r.warn(ap, `address is unset with network ${JSON.stringify(we.network)}`);
  }
  const unix = addr.startsWith(UNIX);
  if (unix) {
    const u = unixAddressProblem(addr.slice(UNIX.length));
    if (u !== undefined) r.error(ap, `${u} (a unix:// address is an absolute socket path or an abstract @name)`);
    if (Object.keys(we.ports ?? {}).length !== 0) r.error(field(path, "ports"), `unix endpoint ${addr} must not include ports`);
  } else if (addr !== "" && !isIpAddress(addr)) {
    if (!o.allowFqdn) r.error(ap, `endpoint address ${JSON.stringify(addr)} is not a valid IP address`);
    else if (fqdnProblem(addr) !== undefined) r.error(ap, `endpoint address ${JSON.stringify(addr)} is not a valid FQDN or an IP address`);
  }
  for (const [name, port] of Object.entries(we.ports ?? {})) {
    const pp = field(field(path, "ports"), name);
    if (o.servicePorts !== undefined && !o.servicePorts.has(name)) r.error(pp, `endpoint port ${JSON.stringify(name)} is not defined by the service entry`);
    const n = portNameProblem(name);
    if (n !== undefined) r.error(pp, n);
    const p = portProblem(port);
    if (p !== undefined) r.error(pp, p);
  }
  checkSelectorLabels(we.labels, field(path, "labels"), r);
  if (unix && o.servicePorts !== undefined && o.servicePorts.size !== 1) r.error(ap, "exactly 1 service port required for unix endpoints");
  if (we.serviceAccount !== undefined && we.serviceAccount.length > 253) r.error(field(path, "serviceAccount"), "must be at most 253 characters");
}

/** Istio's `ValidateWorkloadEntry`. */
export const workloadEntryValidator: KindValidator<WorkloadEntrySpec> = {
  shape: workloadEntryShape,
  check(spec, ctx) {
    checkWorkloadEntry(spec, "spec", ctx.report, { allowFqdn: true });
  },
};
