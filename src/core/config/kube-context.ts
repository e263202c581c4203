import type { FieldError } from "./field-error.ts";
import { isPlainObject } from "./validation/check-shape.ts";
import { isDns1123Label, isDns1123Subdomain } from "./validation/common.ts";

/**
 * Kubernetes objects `strait analyze -f` reads as context, like `istioctl
 * analyze` does on local files: a Service defines the host
 * `<name>.<namespace>.svc.<domain>` and its selector picks Pods as its
 * endpoints; Pods are workloads with labels; Namespaces exist. The control
 * API never stores them (it serves Istio kinds only).
 */
export type KubeContextKind = "Service" | "Pod" | "Namespace";

export interface KubeService {
  kind: "Service";
  name: string;
  namespace: string;
  /** Absent: the Service selects no Pods (endpoints are managed elsewhere). */
  selector?: Readonly<Record<string, string>>;
  ports: readonly { name?: string; port: number; protocol?: string; targetPort?: number | string }[];
  /** `networking.istio.io/exportTo` annotation, comma separated; default everywhere. */
  exportTo?: readonly string[];
}

export interface KubePod {
  kind: "Pod";
  name: string;
  namespace: string;
  labels: Readonly<Record<string, string>>;
}

export interface KubeNamespace {
  kind: "Namespace";
  name: string;
  labels: Readonly<Record<string, string>>;
}

export type KubeObject = KubeService | KubePod | KubeNamespace;

/** Everything analysis may know besides Istio config. */
export interface KubeContext {
  services: readonly KubeService[];
  pods: readonly KubePod[];
  namespaces: readonly KubeNamespace[];
}

export const EMPTY_KUBE_CONTEXT: KubeContext = Object.freeze({ services: [], pods: [], namespaces: [] });

const CONTEXT_KINDS: readonly string[] = ["Service", "Pod", "Namespace"];

/** True for a core/v1 Service, Pod or Namespace document. */
export function isKubeContextDocument(doc: unknown): boolean {
  return isPlainObject(doc) && doc.apiVersion === "v1" && typeof doc.kind === "string" && CONTEXT_KINDS.includes(doc.kind);
}

export type KubeContextResult = { ok: true; object: KubeObject } | { ok: false; errors: FieldError[] };

/**
 * Reads the parts of a core/v1 Service, Pod or Namespace that analysis uses
 * (everything else is ignored, as kubectl would keep it). Errors name the field.
 */
export function readKubeContextObject(doc: unknown, defaultNamespace: string): KubeContextResult {
  const errors: FieldError[] = [];
  if (!isPlainObject(doc) || !isKubeContextDocument(doc)) return { ok: false, errors: [{ path: "kind", message: "expected a v1 Service, Pod or Namespace" }] };
  const kind = doc.kind as KubeContextKind;
  const meta = isPlainObject(doc.metadata) ? doc.metadata : {};
  const name = meta.name;
  if (typeof name !== "string" || !isDns1123Subdomain(name) || name === "") errors.push({ path: "metadata.name", message: "required, a DNS-1123 name" });
  const labels = stringMap(meta.labels, "metadata.labels", errors);
  if (kind === "Namespace") {
    if (errors.length > 0) return { ok: false, errors };
    return { ok: true, object: { kind, name: name as string, labels } };
  }
  const ns = meta.namespace === undefined || meta.namespace === "" ? defaultNamespace : meta.namespace;
  if (typeof ns !== "string" || !isDns1123Label(ns)) errors.push({ path: "metadata.namespace", message: "must be a DNS-1123 label" });
  const spec = isPlainObject(doc.spec) ? doc.spec : {};
  if (kind === "Pod") {
    if (errors.length > 0) return { ok: false, errors };
    return { ok: true, object: { kind, name: name as string, namespace: ns as string, labels } };
  }
  const selector = spec.selector === undefined || spec.selector === null ? undefined : stringMap(spec.selector, "spec.selector", errors);
  const ports: KubeService["ports"][number][] = [];
  if (spec.ports !== undefined && spec.ports !== null) {
    if (!Array.isArray(spec.ports)) errors.push({ path: "spec.ports", message: "must be a list" });
    else
      spec.ports.forEach((p: unknown, i) => {
        const port = isPlainObject(p) ? p.port : undefined;
        if (!isPlainObject(p) || typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
          errors.push({ path: `spec.ports[${i}].port`, message: "must be a port number 1..65535" });
          return;
        }
        ports.push({
          port,
          ...(typeof p.name === "string" ? { name: p.name } : {}),
          ...(typeof p.protocol === "string" ? { protocol: p.protocol } : {}),
          ...(typeof p.targetPort === "number" || typeof p.targetPort === "string" ? { targetPort: p.targetPort } : {}),
        });
      });
  }
  const annotations = isPlainObject(meta.annotations) ? meta.annotations : {};
  const exportTo = typeof annotations["networking.istio.io/exportTo"] === "string" ? (annotations["networking.istio.io/exportTo"] as string).split(",").map((s) => s.trim()).filter((s) => s !== "") : undefined;
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    object: { kind, name: name as string, namespace: ns as string, ports, ...(selector === undefined ? {} : { selector }), ...(exportTo === undefined ? {} : { exportTo }) },
  };
}

function stringMap(v: unknown, path: string, errors: FieldError[]): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isPlainObject(v)) {
    errors.push({ path, message: "must be a mapping of strings" });
    return {};
  }
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== "string") errors.push({ path: `${path}.${k}`, message: "must be a string" });
    else out[k] = x;
  }
  return out;
}

/** Builds the context from read objects. */
export function kubeContextOf(objects: readonly KubeObject[]): KubeContext {
  return {
    services: objects.filter((o): o is KubeService => o.kind === "Service"),
    pods: objects.filter((o): o is KubePod => o.kind === "Pod"),
    namespaces: objects.filter((o): o is KubeNamespace => o.kind === "Namespace"),
  };
}
