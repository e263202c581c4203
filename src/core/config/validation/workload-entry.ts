import type { WorkloadEntrySpec } from "../kinds/workload-entry.ts";
import { checkDns1123Subdomain, hostProblem, isIp, isLabelKey, labelsShape } from "./common.ts";
import type { KindValidator } from "./kind-validator.ts";
import { field, type Report } from "./report.ts";
import { int, map, obj, str, type ObjectShape } from "./shape.ts";

export const workloadEntryShape: ObjectShape = obj<WorkloadEntrySpec>({
  address: str(),
  ports: map(int({ min: 1, max: 65535 })),
  labels: labelsShape,
  network: str(),
  locality: str(),
  weight: int({ min: 0, max: 4294967295 }),
  serviceAccount: str(),
});

/** Checks one WorkloadEntry spec (also used for ServiceEntry endpoints) under `path`. */
export function checkWorkloadEntry(we: WorkloadEntrySpec, path: string, r: Report, o: { requireIp?: boolean } = {}): void {
  const addr = we.address;
  if (addr === undefined || addr === "") {
    if (we.network === undefined || we.network === "") r.error(field(path, "address"), "address is required unless network is set");
  } else if (addr.startsWith("unix://")) {
    if (addr.length <= "unix://".length) r.error(field(path, "address"), "unix:// address needs a path");
    if (we.ports !== undefined && Object.keys(we.ports).length > 0) r.error(field(path, "ports"), "a unix:// address cannot have ports");
  } else if (o.requireIp === true && !isIp(addr)) {
    r.error(field(path, "address"), `must be an IP address for STATIC resolution (got ${JSON.stringify(addr)})`);
  } else if (!isIp(addr) && hostProblem(addr, { allowWildcard: false }) !== undefined) {
    r.error(field(path, "address"), `must be an IP address, DNS name or unix:// path (got ${JSON.stringify(addr)})`);
  }
  for (const k of Object.keys(we.labels ?? {})) {
    if (!isLabelKey(k)) r.error(field(field(path, "labels"), k), `invalid label key ${JSON.stringify(k)}`);
  }
  if (we.serviceAccount !== undefined) checkDns1123Subdomain(we.serviceAccount, field(path, "serviceAccount"), r);
  if (we.locality !== undefined && (we.locality.split("/").length > 3 || we.locality.split("/").some((s) => s === ""))) {
    r.error(field(path, "locality"), `must be region[/zone[/subzone]] (got ${JSON.stringify(we.locality)})`);
  }
}

export const workloadEntryValidator: KindValidator<WorkloadEntrySpec> = {
  shape: workloadEntryShape,
  check(spec, ctx) {
    checkWorkloadEntry(spec, "spec", ctx.report);
  },
};
