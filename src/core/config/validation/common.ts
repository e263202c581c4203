import { re2Problem } from "../regex.ts";
import type { PolicyTargetReference, StringMatch, WorkloadSelector } from "../kinds/common.ts";
import { field, index, type Report } from "./report.ts";
import { arr, int, map, num, obj, req, str, type ObjectShape } from "./shape.ts";

// ---- shapes shared by several kinds ----

export const stringMatchShape: ObjectShape = obj<StringMatch>({ exact: str(), prefix: str(), regex: str() });
export const percentShape: ObjectShape = obj<{ value?: number }>({ value: num({ min: 0, max: 100 }) });
export const portSelectorShape: ObjectShape = obj<{ number?: number }>({ number: int({ min: 1, max: 65535 }) });
export const labelsShape = map(str());
export const workloadSelectorShape: ObjectShape = obj<WorkloadSelector>({ matchLabels: labelsShape });
export const targetRefShape: ObjectShape = obj<PolicyTargetReference>({ group: str(), kind: req(str()), name: req(str()), namespace: str() });
export const stringListShape = arr(str());

// ---- names ----

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function isDns1123Label(s: string): boolean {
  return s.length <= 63 && DNS1123_LABEL.test(s);
}

export function isDns1123Subdomain(s: string): boolean {
  return s.length <= 253 && s.split(".").every((l) => isDns1123Label(l));
}

export function checkDns1123Label(s: string, path: string, report: Report): void {
  if (!isDns1123Label(s)) {
    report.error(path, `must be a DNS-1123 label (lowercase letters, digits and "-", start and end alphanumeric, at most 63 characters); got ${JSON.stringify(s)}`);
  }
}

export function checkDns1123Subdomain(s: string, path: string, report: Report): void {
  if (!isDns1123Subdomain(s)) {
    report.error(path, `must be a DNS-1123 subdomain (lowercase labels separated by ".", at most 253 characters); got ${JSON.stringify(s)}`);
  }
}

// ---- IPs and CIDRs ----

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export function isIpv4(s: string): boolean {
  return IPV4.test(s);
}

export function isIpv6(s: string): boolean {
  if (!/^[0-9A-Fa-f:.]+$/.test(s) || !s.includes(":")) return false;
  try {
    new URL(`http://[${s}]/`);
    return true;
  } catch {
    return false;
  }
}

export function isIp(s: string): boolean {
  return isIpv4(s) || isIpv6(s);
}

/** `10.0.0.0/8`, `2001:db8::/32`, or a bare IP. */
export function isIpOrCidr(s: string): boolean {
  const slash = s.indexOf("/");
  if (slash < 0) return isIp(s);
  const ip = s.slice(0, slash);
  const bits = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(bits)) return false;
  const n = Number(bits);
  if (isIpv4(ip)) return n <= 32;
  if (isIpv6(ip)) return n <= 128;
  return false;
}

export function isCidr(s: string): boolean {
  return s.includes("/") && isIpOrCidr(s);
}

// ---- matches and numbers ----

export function checkRegex(pattern: string, path: string, report: Report): void {
  const p = re2Problem(pattern);
  if (p !== undefined) report.error(path, p);
}

/** Fault percentages: 0, or 0.0001 through 100. */
export function checkFaultPercent(value: number | undefined, path: string, report: Report): void {
  if (value !== undefined && value > 0 && value < 0.0001) report.error(path, `must be 0 or between 0.0001 and 100 (got ${value})`);
}

/** Label selectors: keys and values may not contain `*`; values at most 63 characters. */
export function checkSelectorLabels(labels: Record<string, string> | undefined, path: string, report: Report): void {
  if (labels === undefined) return;
  for (const [k, v] of Object.entries(labels)) {
    const p = field(path, k);
    if (k === "" || k.includes("*")) report.error(p, "label key must be non-empty and must not contain \"*\"");
    else if (!isLabelKey(k)) report.error(p, `invalid label key ${JSON.stringify(k)}`);
    if (v.includes("*")) report.error(p, "label value must not contain \"*\"");
    else if (v.length > 63 || !/^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/.test(v)) report.error(p, `invalid label value ${JSON.stringify(v)} (at most 63 alphanumerics, "-", "_", ".")`);
  }
}

/** Kubernetes label key: `[prefix/]name`. */
export function isLabelKey(k: string): boolean {
  const slash = k.lastIndexOf("/");
  const name = slash < 0 ? k : k.slice(slash + 1);
  if (slash >= 0 && !isDns1123Subdomain(k.slice(0, slash))) return false;
  return name.length > 0 && name.length <= 63 && /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(name);
}

/**
 * The gateway-only JWT claim pseudo-header `@request.auth.claims.<name>` (or
 * `[a][b]` for nested claims; pilot `jwt.ToRoutingClaim`). Claim names are
 * case-sensitive, so they are exempt from the lowercase rule.
 */
const CLAIM_ROUTE = /^@request\.auth\.claims(?:\.[^.\[\]]+(?:\.[^.\[\]]+)*|(?:\[[^\[\]]+\])+)$/;

/** HTTP header names in matches must be lowercase tokens, or a JWT claim route (`@request.auth.claims.groups`). */
export function checkHeaderName(name: string, path: string, report: Report): void {
  if (name.startsWith("@")) {
    if (!CLAIM_ROUTE.test(name)) report.error(path, `invalid JWT claim route ${JSON.stringify(name)} (expected @request.auth.claims.<claim> or @request.auth.claims[a][b])`);
    return;
  }
  if (name === "") report.error(path, "header name must not be empty");
  else if (name !== name.toLowerCase()) report.error(path, `header name must be lowercase (got ${JSON.stringify(name)})`);
  else if (!/^:?[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(name)) report.error(path, `invalid header name ${JSON.stringify(name)}`);
}

/**
 * Istio's `validateWorkloadSelector` for policy selectors (`matchLabels`):
 * keys non-empty, no `*` in keys or values, values at most 63 characters (CRD);
 * a selector without labels is accepted with a warning.
 */
export function checkWorkloadSelector(selector: WorkloadSelector | undefined, path: string, report: Report): void {
  if (selector === undefined) return;
  checkSelectorMap(selector.matchLabels ?? {}, `${path}.matchLabels`, path, report);
}

/** Istio's `ValidateAlphaWorkloadSelector` (networking `workloadSelector.labels` of Sidecar and ServiceEntry). */
export function checkAlphaWorkloadSelector(selector: { labels?: Record<string, string> } | undefined, path: string, report: Report): void {
  if (selector === undefined) return;
  checkSelectorMap(selector.labels ?? {}, `${path}.labels`, path, report);
}

function checkSelectorMap(labels: Record<string, string>, mapPath: string, path: string, report: Report): void {
  for (const [k, v] of Object.entries(labels)) {
    const p = field(mapPath, k);
    if (k === "") report.error(p, "empty key is not supported in selector");
    if (k.includes("*") || v.includes("*")) report.error(p, `wildcard is not supported in selector: ${JSON.stringify(`${k}=${v}`)}`);
    else if (v.length > 63) report.error(p, "label value must be at most 63 characters");
  }
  if (Object.keys(labels).length === 0) report.warn(path, "workload selector specified without labels");
}

/** Kinds a policy `targetRef` may name, with their canonical group (`core` for the empty group). */
const TARGET_KINDS: readonly [kind: string, group: string][] = [
  ["Service", "core"],
  ["ServiceEntry", "networking.istio.io"],
  ["Gateway", "gateway.networking.k8s.io"],
  ["GatewayClass", "gateway.networking.k8s.io"],
];

/**
 * Istio's `validateOneOfSelectorType` + `validatePolicyTargetReference(s)` +
 * `validateWorkloadSelector`: at most one of selector/targetRef/targetRefs; a
 * target names Service, ServiceEntry, Gateway or GatewayClass in its own API
 * group, and never a namespace (cross-namespace references are unsupported).
 */
export function checkPolicyTargets(
  spec: { selector?: WorkloadSelector; targetRef?: PolicyTargetReference; targetRefs?: PolicyTargetReference[] },
  _namespace: string,
  report: Report,
): void {
  const set = (["selector", "targetRef", "targetRefs"] as const).filter((k) => (k === "targetRefs" ? (spec.targetRefs?.length ?? 0) > 0 : spec[k] !== undefined));
  if (set.length > 1) report.error(`spec.${set[1]}`, `only one of targetRefs or workloadSelector can be set (got ${set.join(", ")})`);
  checkWorkloadSelector(spec.selector, "spec.selector", report);
  const refs: [PolicyTargetReference, string][] = [];
  if (spec.targetRef !== undefined) refs.push([spec.targetRef, "spec.targetRef"]);
  spec.targetRefs?.forEach((r, i) => refs.push([r, `spec.targetRefs[${i}]`]));
  if ((spec.targetRefs?.length ?? 0) > 16) report.error("spec.targetRefs", `at most 16 targetRefs are allowed (got ${spec.targetRefs!.length})`);
  for (const [r, p] of refs) {
    if (r.name === "") report.error(`${p}.name`, "targetRef name must be set");
    if (r.namespace !== undefined && r.namespace !== "") report.error(`${p}.namespace`, "targetRef namespace must not be set; cross namespace referencing is not supported");
    const group = r.group === undefined || r.group === "" ? "core" : r.group;
    if (!TARGET_KINDS.some(([k, g]) => k === r.kind && g === group)) {
      report.error(
        `${p}.kind`,
        `targetRef must be to one of Service (core), ServiceEntry (networking.istio.io), Gateway or GatewayClass (gateway.networking.k8s.io) but was ${r.group ?? ""}/${r.kind}`,
      );
    }
  }
}

/**
 * Istio's `validateExportTo`: `.`, `*` or namespace names (`~` only on a
 * ServiceEntry); no duplicates (`.` counts as the own namespace); `*` and `~`
 * stand alone; a DestinationRule with a workload selector exports to its own
 * namespace only.
 */
export function checkExportTo(
  list: readonly string[] | undefined,
  report: Report,
  o: { namespace?: string; serviceEntry?: boolean; destinationRuleWithSelector?: boolean } = {},
): void {
  if (list === undefined || list.length === 0) return;
  const seen = new Set<string>();
  list.forEach((e, i) => {
    const p = `spec.exportTo[${i}]`;
    const key = e === "." && o.namespace !== undefined ? o.namespace : e;
    if (seen.has(key)) {
      report.error(p, key !== e ? `duplicate entries in exportTo: . and current namespace ${o.namespace}` : `duplicate entries in exportTo for entry ${e}`);
      return;
    }
    if (e === "~" && o.serviceEntry !== true) report.error(p, "exportTo ~ (none) is not allowed for Istio configuration objects");
    else if (e !== "." && e !== "*" && e !== "~" && !isIstioLabel(e)) report.error(p, `only ., *, or a valid DNS 1123 label is allowed as exportTo entry (got ${JSON.stringify(e)})`);
    else seen.add(key);
  });
  if (o.destinationRuleWithSelector === true && seen.size > 0 && o.namespace !== undefined) {
    if (!seen.has(o.namespace)) report.error("spec.exportTo", "destination rule with workload selector cannot have exportTo beyond current namespace");
    else if (seen.size > 1) report.error("spec.exportTo", "destination rule with workload selector cannot have multiple entries in exportTo");
  }
  if (seen.has("*") && list.length > 1) report.error("spec.exportTo", "cannot have both public (*) and non-public exportTo values for a resource");
  if (seen.has("~") && list.length > 1) report.error("spec.exportTo", "cannot export service entry to no one (~) and someone");
}

function isIstioLabel(s: string): boolean {
  return s.length <= 63 && /^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$/.test(s);
}
