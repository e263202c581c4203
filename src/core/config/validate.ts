import type { FieldError } from "./field-error.ts";
import { findKind, KINDS, storageApiVersion, type AnyResource, type Kind, type ObjectMeta, type SpecByKind } from "./resource.ts";
import { isKubeContextDocument } from "./kube-context.ts";
import { checkShape, isPlainObject, PRUNED } from "./validation/check-shape.ts";
import { checkDns1123Label, checkDns1123Subdomain, isLabelKey } from "./validation/common.ts";
import { authorizationPolicyValidator } from "./validation/authorization-policy.ts";
import { destinationRuleValidator } from "./validation/destination-rule.ts";
import { gatewayValidator } from "./validation/gateway.ts";
import type { KindValidator } from "./validation/kind-validator.ts";
import { peerAuthenticationValidator } from "./validation/peer-authentication.ts";
import { field, Report } from "./validation/report.ts";
import { requestAuthenticationValidator } from "./validation/request-authentication.ts";
import { serviceEntryValidator } from "./validation/service-entry.ts";
import { sidecarValidator } from "./validation/sidecar.ts";
import { virtualServiceValidator } from "./validation/virtual-service.ts";
import { workloadEntryValidator } from "./validation/workload-entry.ts";
import { rateLimitPolicyValidator } from "./validation/rate-limit-policy.ts";
import { int, map, obj, req, str } from "./validation/shape.ts";

export type { FieldError } from "./field-error.ts";

/**
 * On failure, `partial` holds what still parses of the document (fields with a
 * wrong type, and list items missing a required field, dropped) when its kind
 * and metadata are sound: analysis can still use it, nothing may store it.
 */
export type ValidationResult = { ok: true; resource: AnyResource; warnings: FieldError[] } | { ok: false; errors: FieldError[]; partial?: AnyResource };

export const DEFAULT_NAMESPACE = "default";

const VALIDATORS: { [K in Kind]: KindValidator<SpecByKind[K]> } = {
  Gateway: gatewayValidator,
  VirtualService: virtualServiceValidator,
  DestinationRule: destinationRuleValidator,
  ServiceEntry: serviceEntryValidator,
  WorkloadEntry: workloadEntryValidator,
  Sidecar: sidecarValidator,
  AuthorizationPolicy: authorizationPolicyValidator,
  PeerAuthentication: peerAuthenticationValidator,
  RequestAuthentication: requestAuthenticationValidator,
  RateLimitPolicy: rateLimitPolicyValidator,
};

const metadataShape = obj<Omit<ObjectMeta, "namespace"> & { namespace?: string }>({
  name: req(str()),
  namespace: str(),
  labels: map(str()),
  annotations: map(str()),
  resourceVersion: str(),
  generation: int({ min: 0 }),
  uid: str(),
  creationTimestamp: str(),
});

/** Server-managed metadata that `kubectl get -o yaml` prints; accepted and dropped with a warning. */
const IGNORED_METADATA = new Set(["managedFields", "selfLink", "finalizers", "ownerReferences", "generateName", "deletionTimestamp", "deletionGracePeriodSeconds"]);

/**
 * Validates one parsed document as an Istio resource, following Istio's schema
 * and webhook rules. Unknown fields are refused at every level; every error
 * names its field path (`spec.http[0].route[1].weight`). On success the
 * resource has its `apiVersion` normalised to the storage version, the
 * namespace defaulted, and `null` fields removed.
 * @example validateResource(doc, { defaultNamespace: "bookinfo" })
 */
export function validateResource(doc: unknown, options?: { defaultNamespace?: string }): ValidationResult {
  const report = new Report();
  if (!isPlainObject(doc)) {
    report.error("", "a resource must be an object with apiVersion, kind, metadata and spec");
    return { ok: false, errors: report.errors };
  }
  for (const k of Object.keys(doc)) {
    if (k === "status") report.warn("status", "status is ignored");
    else if (!["apiVersion", "kind", "metadata", "spec"].includes(k)) report.error(k, `unknown field "${k}"`);
  }
  const { apiVersion, kind } = doc;
  if (typeof apiVersion !== "string" || apiVersion === "") report.error("apiVersion", "required field is missing (a string like networking.istio.io/v1)");
  if (typeof kind !== "string" || kind === "") report.error("kind", "required field is missing (a string like VirtualService)");
  if (typeof apiVersion !== "string" || typeof kind !== "string" || apiVersion === "" || kind === "") return { ok: false, errors: report.errors };

  const info = findKind(apiVersion, kind);
  if (info === undefined && isKubeContextDocument(doc)) {
    report.error(
      "kind",
      `Kubernetes ${kind} objects are not stored by Strait: they are context for \`strait analyze -f\` only (as with istioctl analyze on local files); apply Istio kinds (${KINDS.map((k) => k.kind).join(", ")})`,
    );
    return { ok: false, errors: report.errors };
  }
  if (info === undefined) {
    const sameKind = KINDS.find((k) => k.kind === kind);
    if (sameKind === undefined) {
      report.error("kind", `unsupported kind ${JSON.stringify(kind)}; expected one of ${KINDS.map((k) => k.kind).join(", ")}`);
    } else {
      const served = sameKind.versions.map((v) => `${sameKind.group}/${v}`).join(", ");
      report.error("apiVersion", `${JSON.stringify(apiVersion)} does not serve ${kind}; expected one of ${served}`);
    }
    return { ok: false, errors: report.errors };
  }

  const metadata = checkMetadata(doc.metadata, options?.defaultNamespace ?? DEFAULT_NAMESPACE, report);
  const validator = VALIDATORS[info.kind] as KindValidator<unknown>;
  const specValue = doc.spec === undefined || doc.spec === null ? {} : doc.spec;
  const structuralBefore = report.structuralErrors;
  const spec = checkShape(specValue, validator.shape, "spec", report);
  // Semantic rules read the typed spec, so they need a sound structure (as Istio's webhook runs after
  // the CRD schema); out-of-range values and unknown fields do not stop them.
  if (report.structuralErrors === structuralBefore && metadata !== undefined) {
    validator.check(spec, { namespace: metadata.namespace, name: metadata.name, report });
  }
  if (metadata !== undefined) checkReservedAnnotations(info.kind, metadata, spec, report);
  if (metadata === undefined) return { ok: false, errors: report.errors };
  if (report.errors.length > 0) {
    const sound = report.structuralErrors === structuralBefore ? spec : checkShape(specValue, validator.shape, "spec", new Report(), { prune: true });
    if (sound === PRUNED || sound === undefined) return { ok: false, errors: report.errors };
    return { ok: false, errors: report.errors, partial: { apiVersion: storageApiVersion(info.kind), kind: info.kind, metadata, spec: sound } as AnyResource };
  }
  const resource = { apiVersion: storageApiVersion(info.kind), kind: info.kind, metadata, spec } as AnyResource;
  return { ok: true, resource, warnings: report.warnings };
}

function checkMetadata(value: unknown, defaultNamespace: string, report: Report): ObjectMeta | undefined {
  if (value === undefined || value === null) {
    report.error("metadata", "required field is missing");
    return undefined;
  }
  let cleaned = value;
  if (isPlainObject(value)) {
    cleaned = Object.fromEntries(
      Object.entries(value).filter(([k]) => {
        if (!IGNORED_METADATA.has(k)) return true;
        report.warn(field("metadata", k), "server-managed field is ignored");
        return false;
      }),
    );
  }
  const before = report.errors.length;
  const meta = checkShape(cleaned, metadataShape, "metadata", report) as ObjectMeta | undefined;
  if (meta === undefined || report.errors.length > before) return undefined;
  if (meta.name === "") report.error("metadata.name", "must not be empty");
  else checkDns1123Subdomain(meta.name, "metadata.name", report);
  const namespace = meta.namespace === undefined || meta.namespace === "" ? defaultNamespace : meta.namespace;
  checkDns1123Label(namespace, "metadata.namespace", report);
  for (const [k, v] of Object.entries(meta.labels ?? {})) {
    const p = field("metadata.labels", k);
    if (!isLabelKey(k)) report.error(p, `invalid label key ${JSON.stringify(k)}`);
    if (v.length > 63 || !/^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/.test(v)) report.error(p, `invalid label value ${JSON.stringify(v)}`);
  }
  if (report.errors.length > before) return undefined;
  return { ...meta, namespace };
}

const DRY_RUN = "istio.io/dry-run";
/** Annotations Istio's webhook refuses on user config (they escalate privileges or force a refusal). */
const INTERNAL_ANNOTATIONS = ["internal.istio.io/webhook-always-reject", "internal.istio.io/parent-namespace", "internal.istio.io/parent-names"];
const GO_BOOLS = ["1", "t", "T", "TRUE", "true", "True", "0", "f", "F", "FALSE", "false", "False"];

/** Istio's `validateMetadata`: `istio.io/dry-run` only on ALLOW/DENY AuthorizationPolicies, with a boolean; internal annotations refused. */
function checkReservedAnnotations(kind: Kind, metadata: ObjectMeta, spec: unknown, report: Report): void {
  const annotations = metadata.annotations ?? {};
  const dryRun = annotations[DRY_RUN];
  if (dryRun !== undefined) {
    const p = field("metadata.annotations", DRY_RUN);
    if (kind !== "AuthorizationPolicy") report.error(p, `${metadata.namespace}/${metadata.name} has unsupported annotation ${DRY_RUN}, please remove the annotation`);
    else {
      const action = (isPlainObject(spec) && typeof spec.action === "string" ? spec.action : "ALLOW") as string;
      if (action !== "ALLOW" && action !== "DENY") report.error(p, `the annotation ${DRY_RUN} currently only supports action ALLOW/DENY, found action ${action}`);
      else if (!GO_BOOLS.includes(dryRun)) report.error(p, `invalid value ${JSON.stringify(dryRun)} for ${DRY_RUN}: must be true or false`);
    }
  }
  for (const a of INTERNAL_ANNOTATIONS) {
    if (annotations[a] !== undefined) report.error(field("metadata.annotations", a), `${JSON.stringify(a)} annotation found, this may not be set by users`);
  }
}
