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

/** `when` keys Istio understands (pilot/pkg/security/authz/model/model.go). */
const EXACT_KEYS = new Set([
  "source.ip", "remote.ip", "source.namespace", "source.principal", "source.serviceAccount", "source.trustDomain",
  "request.auth.principal", "request.auth.audiences", "request.auth.presenter", "destination.ip", "destination.port", "connection.sni",
]);
const HEADER_KEY = /^request\.headers\[[^\[\]]+\]$/;
const CLAIM_KEY = /^request\.auth\.claims(\[[^\[\]]+\])+$/;
const ENVOY_FILTER_KEY = /^experimental\.envoy\.filters\.[^\[\]]+(\[[^\[\]]+\])+$/;
const KEY_HINTS: Readonly<Record<string, string>> = {
  "destination.labels": "use the policy selector instead",
  "destination.name": "use the policy selector instead",
  "destination.namespace": "use the policy namespace instead",
  "destination.user": "use the policy selector instead",
  "source.user": "use source.principal",
  "request.auth.claims": "name the claim: request.auth.claims[iss]",
  "request.headers": "name the header: request.headers[x-token]",
};

export const authorizationPolicyValidator: KindValidator<AuthorizationPolicySpec> = {
  shape,
  check(spec, ctx) {
    const r = ctx.report;
    checkPolicyTargets(spec, ctx.namespace, r);
    const action = spec.action ?? "ALLOW";
    if (action === "CUSTOM") {
      if (spec.provider?.name === undefined || spec.provider.name === "") r.error("spec.provider.name", "required for CUSTOM action");
    } else if (spec.provider !== undefined) {
      r.error("spec.provider", `provider is only allowed with CUSTOM action (got ${action})`);
    }
    if ((action === "DENY" || action === "CUSTOM") && (spec.rules === undefined || spec.rules.length === 0)) {
      r.error("spec.rules", `${action} action requires at least one rule`);
    }
    if ((spec.rules?.length ?? 0) > MAX_RULES) r.error("spec.rules", `at most ${MAX_RULES} rules are allowed (got ${spec.rules?.length})`);
    spec.rules?.forEach((rule, i) => checkRule(rule, `spec.rules[${i}]`, r));
  },
};

function checkRule(rule: Rule, path: string, r: Report): void {
  if (rule.from !== undefined && rule.from.length === 0) r.error(`${path}.from`, "must not be empty when set");
  if (rule.to !== undefined && rule.to.length === 0) r.error(`${path}.to`, "must not be empty when set");
  rule.from?.forEach((f, i) => {
    const p = `${path}.from[${i}].source`;
    if (f.source === undefined || Object.keys(f.source).length === 0) r.error(p, "source must not be empty");
    else checkSource(f.source, p, r);
  });
  rule.to?.forEach((t, i) => {
    const p = `${path}.to[${i}].operation`;
    if (t.operation === undefined || Object.keys(t.operation).length === 0) r.error(p, "operation must not be empty");
    else checkOperation(t.operation, p, r);
  });
  rule.when?.forEach((c, i) => checkCondition(c, `${path}.when[${i}]`, r));
}

function checkSource(s: Source, path: string, r: Report): void {
  for (const [k, list] of Object.entries(s) as [keyof Source, string[]][]) {
    if (list.length === 0) r.error(`${path}.${k}`, "must not be empty when set");
    list.forEach((v, i) => {
      if (v === "") r.error(`${path}.${k}[${i}]`, "must not be empty");
    });
  }
  const sa = s.serviceAccounts ?? [];
  const notSa = s.notServiceAccounts ?? [];
  if (sa.length > 0 || notSa.length > 0) {
    const mixed = (["principals", "notPrincipals", "namespaces", "notNamespaces"] as const).filter((k) => s[k] !== undefined);
    if (mixed.length > 0) r.error(`${path}.serviceAccounts`, `serviceAccounts cannot be combined with ${mixed.join(", ")}`);
  }
  for (const k of ["serviceAccounts", "notServiceAccounts"] as const) {
    const list = s[k] ?? [];
    if (list.length > 16) r.error(`${path}.${k}`, `at most 16 service accounts are allowed (got ${list.length})`);
    list.forEach((v, i) => {
      if (v.includes("*")) r.error(`${path}.${k}[${i}]`, `"*" is not allowed in service accounts`);
      else if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(v)) r.error(`${path}.${k}[${i}]`, `must be "<namespace>/<serviceaccount>" (got ${JSON.stringify(v)})`);
    });
  }
  for (const k of ["ipBlocks", "notIpBlocks", "remoteIpBlocks", "notRemoteIpBlocks"] as const) {
    s[k]?.forEach((v, i) => {
      if (!isIpOrCidr(v)) r.error(`${path}.${k}[${i}]`, `must be an IP address or CIDR (got ${JSON.stringify(v)})`);
    });
  }
}

function checkOperation(o: Operation, path: string, r: Report): void {
  for (const [k, list] of Object.entries(o) as [keyof Operation, string[]][]) {
    if (list.length === 0) r.error(`${path}.${k}`, "must not be empty when set");
    list.forEach((v, i) => {
      if (v === "") r.error(`${path}.${k}[${i}]`, "must not be empty");
    });
  }
  for (const k of ["ports", "notPorts"] as const) {
    o[k]?.forEach((v, i) => {
      if (!isPort(v)) r.error(`${path}.${k}[${i}]`, `must be a port number 1..65535 (got ${JSON.stringify(v)})`);
    });
  }
  for (const k of ["paths", "notPaths"] as const) {
    o[k]?.forEach((v, i) => {
      const problem = pathTemplateProblem(v);
      if (problem !== undefined) r.error(`${path}.${k}[${i}]`, problem);
    });
  }
}

function checkCondition(c: Condition, path: string, r: Report): void {
  const key = c.key;
  if (!EXACT_KEYS.has(key) && !HEADER_KEY.test(key) && !CLAIM_KEY.test(key) && !ENVOY_FILTER_KEY.test(key)) {
    const hint = KEY_HINTS[key];
    r.error(`${path}.key`, `unknown key ${JSON.stringify(key)}${hint === undefined ? "" : ` (${hint})`}`);
  }
  if ((c.values?.length ?? 0) === 0 && (c.notValues?.length ?? 0) === 0) r.error(path, "values or notValues is required");
  for (const k of ["values", "notValues"] as const) {
    c[k]?.forEach((v, i) => {
      const p = `${path}.${k}[${i}]`;
      if ((key === "source.ip" || key === "remote.ip" || key === "destination.ip") && !isIpOrCidr(v)) r.error(p, `must be an IP address or CIDR (got ${JSON.stringify(v)})`);
      if (key === "destination.port" && !isPort(v)) r.error(p, `must be a port number 1..65535 (got ${JSON.stringify(v)})`);
    });
  }
}

function isPort(v: string): boolean {
  return /^\d{1,5}$/.test(v) && Number(v) >= 1 && Number(v) <= 65535;
}

/** `{*}` matches one segment, `{**}` the rest and must be the last operator; a template must be a whole segment. */
function pathTemplateProblem(p: string): string | undefined {
  if (!p.includes("{")) return undefined;
  if (!p.startsWith("/")) return `a path template must start with "/" (got ${JSON.stringify(p)})`;
  const segments = p.split("/");
  let sawDoubleStar = false;
  for (const seg of segments) {
    if (!seg.includes("{") && !seg.includes("}")) continue;
    if (sawDoubleStar) return `{**} must be the last operator in ${JSON.stringify(p)}`;
    if (seg === "{**}") sawDoubleStar = true;
    else if (seg !== "{*}") return `path template operators must be a whole segment, {*} or {**} (got ${JSON.stringify(p)})`;
  }
  return undefined;
}

