import type { AuthorizationPolicySpec, Condition, Operation, Rule, Source } from "../kinds/authorization-policy.ts";
import { checkPolicyTargets, isIpOrCidr, stringListShape, targetRefShape, workloadSelectorShape } from "./common.ts";
import type { KindValidator } from "./kind-validator.ts";
import type { Report } from "./report.ts";
import { arr, obj, oneOf, req, str } from "./shape.ts";

const sourceShape = obj<Source>({
  principals: stringListShape,
  notPrincipals: stringListShape,
  requestPrincipals: stringListShape,
  notRequestPrincipals: stringListShape,
  namespaces: stringListShape,
  notNamespaces: stringListShape,
  serviceAccounts: stringListShape,
  notServiceAccounts: stringListShape,
  ipBlocks: stringListShape,
  notIpBlocks: stringListShape,
  remoteIpBlocks: stringListShape,
  notRemoteIpBlocks: stringListShape,
  trustDomains: stringListShape,
  notTrustDomains: stringListShape,
});

const operationShape = obj<Operation>({
  hosts: stringListShape,
  notHosts: stringListShape,
  ports: stringListShape,
  notPorts: stringListShape,
  methods: stringListShape,
  notMethods: stringListShape,
  paths: stringListShape,
  notPaths: stringListShape,
});

const shape = obj<AuthorizationPolicySpec>({
  selector: workloadSelectorShape,
  targetRef: targetRefShape,
  targetRefs: arr(targetRefShape),
  rules: arr(
    obj<Rule>({
      from: arr(obj<{ source?: Source }>({ source: sourceShape })),
      to: arr(obj<{ operation?: Operation }>({ operation: operationShape })),
      when: arr(obj<Condition>({ key: req(str()), values: stringListShape, notValues: stringListShape })),
    }),
  ),
  action: oneOf(["ALLOW", "DENY", "AUDIT", "CUSTOM"]),
  provider: obj<{ name?: string }>({ name: str() }),
});

export const MAX_RULES = 512;

/** Source fields that count as "set" for the `from.source must not be empty` rule (Istio's list). */
const SOURCE_FIELDS = [
  "principals", "requestPrincipals", "namespaces", "ipBlocks", "remoteIpBlocks", "serviceAccounts", "trustDomains",
  "notPrincipals", "notRequestPrincipals", "notNamespaces", "notIpBlocks", "notRemoteIpBlocks", "notServiceAccounts", "notTrustDomains",
] as const;
/** Source fields that also work on TCP traffic (Istio's `tcpRulesInFrom`; trust domains come from the peer certificate too). */
const TCP_SOURCE_FIELDS = [
  "principals", "notPrincipals", "ipBlocks", "notIpBlocks", "namespaces", "notNamespaces", "remoteIpBlocks", "notRemoteIpBlocks",
  "serviceAccounts", "notServiceAccounts", "trustDomains", "notTrustDomains",
] as const;
const OPERATION_FIELDS = ["ports", "methods", "paths", "hosts", "notPorts", "notMethods", "notPaths", "notHosts"] as const;
/** Source fields and `when` keys an ext-authz (CUSTOM) policy cannot use. */
const CUSTOM_UNSUPPORTED_SOURCE = ["namespaces", "notNamespaces", "serviceAccounts", "notServiceAccounts", "principals", "notPrincipals", "requestPrincipals", "notRequestPrincipals"] as const;

/** Istio's `ValidateAuthorizationPolicy` (with `security.ValidateAttribute` for `when` keys). */
export const authorizationPolicyValidator: KindValidator<AuthorizationPolicySpec> = {
  shape,
  check(spec, ctx) {
    const r = ctx.report;
    checkPolicyTargets(spec, ctx.namespace, r);
    const action = spec.action ?? "ALLOW";
    const noRules = spec.rules === undefined || spec.rules.length === 0;
    if (action === "CUSTOM") {
      if (noRules) r.error("spec.rules", "CUSTOM action without `rules` is meaningless as it will never be triggered, add an empty rule `{}` if you want it be triggered for every request");
      else if (spec.provider?.name === undefined || spec.provider.name === "") r.error("spec.provider.name", "`provider.name` must not be empty");
      spec.rules?.forEach((rule, i) => {
        rule.from?.forEach((f, j) => {
          for (const k of CUSTOM_UNSUPPORTED_SOURCE) {
            if ((f.source?.[k]?.length ?? 0) > 0) r.error(`spec.rules[${i}].from[${j}].source.${k}`, `From.${k[0]!.toUpperCase()}${k.slice(1)} is currently not supported with CUSTOM action`);
          }
        });
        rule.when?.forEach((c, j) => {
          if (["source.namespace", "source.serviceAccount", "source.principal"].includes(c.key) || c.key.startsWith("request.auth.")) {
            r.error(`spec.rules[${i}].when[${j}].key`, `${c.key} is currently not supported with CUSTOM action`);
          }
        });
      });
    }
    if (spec.provider !== undefined && action !== "CUSTOM") r.error("spec.provider", `\`provider\` must not be with non CUSTOM action, found ${action}`);
    if (action === "DENY" && noRules) r.error("spec.rules", "DENY action without `rules` is meaningless as it will never be triggered, add an empty rule `{}` if you want it be triggered for every request");
    if ((spec.rules?.length ?? 0) > MAX_RULES) r.error("spec.rules", `at most ${MAX_RULES} rules are allowed (got ${spec.rules?.length})`);
    spec.rules?.forEach((rule, i) => checkRule(rule, `spec.rules[${i}]`, action, r));
  },
};

function checkRule(rule: Rule, path: string, action: string, r: Report): void {
  if (rule.from !== undefined && rule.from.length === 0) r.error(`${path}.from`, "`from` must not be empty");
  if (rule.to !== undefined && rule.to.length === 0) r.error(`${path}.to`, "`to` must not be empty");
  let fromExists = false;
  let toExists = false;
  let tcpInFrom = false;
  let tcpInTo = false;
  rule.from?.forEach((f, i) => {
    const p = `${path}.from[${i}].source`;
    if (f.source === undefined) {
      r.error(p, "`from.source` must not be nil");
      return;
    }
    fromExists = true;
    checkSource(f.source, p, r);
    if (TCP_SOURCE_FIELDS.some((k) => f.source![k] !== undefined)) tcpInFrom = true;
  });
  rule.to?.forEach((t, i) => {
    const p = `${path}.to[${i}].operation`;
    if (t.operation === undefined) {
      r.error(p, "`to.operation` must not be nil");
      return;
    }
    toExists = true;
    checkOperation(t.operation, p, r);
    if (t.operation.ports !== undefined || t.operation.notPorts !== undefined) tcpInTo = true;
  });
  rule.when?.forEach((c, i) => checkCondition(c, `${path}.when[${i}]`, r));
  if (action === "DENY" && ((fromExists && !toExists && !tcpInFrom) || (toExists && !tcpInTo))) {
    r.warn(path, "configured AuthorizationPolicy will deny all traffic to TCP ports under its scope due to the use of only HTTP attributes in a DENY rule; it is recommended to explicitly specify the port");
  }
}

function checkSource(s: Source, path: string, r: Report): void {
  if (SOURCE_FIELDS.every((k) => (s[k]?.length ?? 0) === 0)) r.error(path, "`from.source` must not be empty");
  if ((["principals", "notPrincipals", "namespaces", "notNamespaces"] as const).some((k) => (s[k]?.length ?? 0) > 0) && ((s.serviceAccounts?.length ?? 0) + (s.notServiceAccounts?.length ?? 0)) > 0) {
    r.error(`${path}.serviceAccounts`, "cannot set serviceAccounts with namespaces or principals");
  }
  for (const k of ["ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks"] as const) {
    s[k]?.forEach((v, i) => {
      if (v === "") r.error(`${path}.${k}[${i}]`, `empty value not allowed, found in ${k}`);
      else if (!isIpOrCidr(v)) r.error(`${path}.${k}[${i}]`, v.includes("/") ? `bad CIDR range (${v})` : `bad IP address (${v})`);
    });
  }
  for (const k of ["principals", "requestPrincipals", "namespaces", "notPrincipals", "notRequestPrincipals", "notNamespaces", "trustDomains", "notTrustDomains"] as const) {
    s[k]?.forEach((v, i) => {
      if (v === "") r.error(`${path}.${k}[${i}]`, `empty value not allowed, found in ${k}`);
    });
  }
  for (const k of ["serviceAccounts", "notServiceAccounts"] as const) checkServiceAccounts(s[k], `${path}.${k}`, k, r);
}

/**
 * `security.CheckServiceAccount`: at most 16 values, each `serviceAccount` or
 * `namespace/serviceAccount` (no `*`, no empty part, at most 320 characters).
 */
function checkServiceAccounts(list: readonly string[] | undefined, path: string, key: string, r: Report): void {
  if (list === undefined) return;
  if (list.length > 16) {
    r.error(path, `may not have more than 16 values (got ${list.length})`);
    return;
  }
  list.forEach((v, i) => {
    const p = `${path}[${i}]`;
    if (v === "") r.error(p, `empty value not allowed, found in ${key}`);
    else if (v.includes("*")) r.error(p, `wildcard not allowed, found in ${key}`);
    else if (v.split("/").length > 2) r.error(p, `expected format 'serviceAccount' or 'namespace/serviceAccount', found ${JSON.stringify(v)} in ${key}`);
    else if (v.length > 320) r.error(p, `value cannot exceed 320 characters, found in ${key}`);
    else if (v.includes("/") && (v.startsWith("/") || v.endsWith("/"))) r.error(p, `expected format 'serviceAccount' or 'namespace/serviceAccount', found an empty part in ${JSON.stringify(v)} in ${key}`);
  });
}

function checkOperation(o: Operation, path: string, r: Report): void {
  if (OPERATION_FIELDS.every((k) => (o[k]?.length ?? 0) === 0)) r.error(path, "`to.operation` must not be empty");
  for (const k of OPERATION_FIELDS) {
    o[k]?.forEach((v, i) => {
      if (v === "") r.error(`${path}.${k}[${i}]`, `empty value not allowed, found in ${k}`);
    });
  }
  for (const k of ["ports", "notPorts"] as const) {
    o[k]?.forEach((v, i) => {
      if (v !== "" && !isPort(v)) r.error(`${path}.${k}[${i}]`, `bad port (${v}): must be a number 0..65535`);
    });
  }
  for (const k of ["paths", "notPaths"] as const) {
    o[k]?.forEach((v, i) => {
      const problem = pathTemplateProblem(v, k);
      if (problem !== undefined) r.error(`${path}.${k}[${i}]`, problem);
    });
  }
}

function checkCondition(c: Condition, path: string, r: Report): void {
  const key = c.key;
  if (key === "") {
    r.error(`${path}.key`, "`key` must not be empty");
    return;
  }
  if ((c.values?.length ?? 0) === 0 && (c.notValues?.length ?? 0) === 0) {
    r.error(path, `at least one of \`values\` or \`notValues\` must be set for key ${key}`);
    return;
  }
  for (const k of ["values", "notValues"] as const) {
    const problem = attributeProblem(key, c[k] ?? []);
    if (problem === undefined) continue;
    if (problem.keyError === true) {
      r.error(`${path}.key`, `invalid \`key\` ${key}: ${problem.message}`);
      return;
    }
    r.error(`${path}.${k}`, `invalid \`${k === "values" ? "value" : "notValue"}\` for \`key\` ${key}: ${problem.message}`);
  }
}

/** `security.ValidateAttribute`. */
function attributeProblem(key: string, values: readonly string[]): { message: string; keyError?: boolean } | undefined {
  const empty = values.findIndex((v) => v === "");
  if (empty >= 0) return { message: `empty value not allowed, found in ${key}` };
  const mapKey = (): { message: string; keyError: boolean } | undefined => {
    const open = key.indexOf("[");
    return key.endsWith("]") && open > 0 && open < key.length - 2 ? undefined : { message: `bad key (${key}): should have format a[b]`, keyError: true };
  };
  if (key.startsWith("request.headers") || key.startsWith("request.experimental.inline.headers") || key.startsWith("request.auth.claims") || key.startsWith("experimental.envoy.filters.")) return mapKey();
  if (key === "source.ip" || key === "remote.ip" || key === "destination.ip") {
    const bad = values.find((v) => !isIpOrCidr(v));
    return bad === undefined ? undefined : { message: bad.includes("/") ? `bad CIDR range (${bad})` : `bad IP address (${bad})` };
  }
  if (key === "destination.port") {
    const bad = values.find((v) => !isPort(v));
    return bad === undefined ? undefined : { message: `bad port (${bad})` };
  }
  if (key === "source.serviceAccount") {
    const bad = values.find((v) => v.includes("*") || v.split("/").length > 2 || v.length > 320 || (v.includes("/") && (v.startsWith("/") || v.endsWith("/"))));
    return bad === undefined ? (values.length > 16 ? { message: "may not have more than 16 values" } : undefined) : { message: `expected format 'serviceAccount' or 'namespace/serviceAccount' without wildcards, found ${JSON.stringify(bad)}` };
  }
  if (["source.namespace", "source.principal", "request.auth.principal", "request.auth.audiences", "request.auth.presenter", "connection.sni"].includes(key)) return undefined;
  if (key === "destination.namespace") return { message: `attribute ${key} is replaced by the metadata.namespace`, keyError: true };
  if (key.startsWith("destination.labels")) return { message: `attribute ${key} is replaced by the workload selector`, keyError: true };
  if (key === "destination.name" || key === "destination.user") return { message: `deprecated attribute ${key}: only supported in v1alpha1`, keyError: true };
  return { message: `unknown attribute: ${key}`, keyError: true };
}

function isPort(v: string): boolean {
  return /^\d{1,5}$/.test(v) && Number(v) <= 65535;
}

/** RFC 3986 pchar, the literal segments allowed beside `{*}` / `{**}`. */
const PCHAR = /^[a-zA-Z0-9\-._~%!$&'()+,;:@=]+$/;

/** `security.CheckValidPathTemplate`: `{*}` one segment, `{**}` the rest (last), other segments plain pchar. */
function pathTemplateProblem(p: string, key: string): string | undefined {
  const hasTemplate = p.includes("{*}") || p.includes("{**}");
  let sawAny = false;
  for (const glob of p.replace(/^\/+|\/+$/g, "").split("/")) {
    if (glob === "{*}" && !sawAny) continue;
    if (glob === "{**}" && !sawAny) {
      sawAny = true;
      continue;
    }
    if ((glob === "{**}" || glob === "{*}") && sawAny) return `invalid or unsupported path ${p}, found in ${key}. {**} is not the last operator`;
    if (glob.includes("{") || glob.includes("}")) return `invalid or unsupported path ${p}, found in ${key}. Contains '{' or '}' beyond a supported path template`;
    if (hasTemplate && !PCHAR.test(glob)) return `invalid or unsupported path ${p}, found in ${key}. Contains segment ${glob} with invalid string literal`;
  }
  return undefined;
}
