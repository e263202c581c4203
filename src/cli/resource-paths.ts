import { KINDS, resolveKindName, type Kind, type KindInfo } from "../core/config/resource.ts";
import { UsageError } from "./cli-errors.ts";

/**
 * Resolves a KIND argument (`vs`, `virtualservice`, `virtualservices`,
 * `VirtualService`) or fails with a usage error listing what is known.
 */
export function resolveKindArg(text: string): KindInfo {
  const info = resolveKindName(text);
  if (info !== undefined) return info;
  const known = KINDS.map((k) => `${k.kind.toLowerCase()} (${[k.plural, ...k.shortNames].join(", ")})`).join("; ");
  throw new UsageError(`KIND: unknown resource type ${JSON.stringify(text)}; known: ${known}`, { field: "KIND" });
}

/** kubectl's resource type name: `virtualservice.networking.istio.io`. */
export function typeName(info: KindInfo): string {
  return `${info.kind.toLowerCase()}.${info.group}`;
}

/** `virtualservice.networking.istio.io/reviews`, as `apply` prints it. */
export function resourceRef(info: KindInfo, name: string): string {
  return `${typeName(info)}/${name}`;
}

/** `/apis/<group>/<version>/namespaces/<ns>/<plural>`, or across namespaces when `namespace` is undefined. */
export function collectionPath(info: KindInfo, namespace: string | undefined): string {
  const base = `/apis/${info.group}/${info.versions[0]}`;
  return namespace === undefined ? `${base}/${info.plural}` : `${base}/namespaces/${encodeURIComponent(namespace)}/${info.plural}`;
}

/** `/apis/<group>/<version>/namespaces/<ns>/<plural>/<name>`. */
export function itemPath(info: KindInfo, namespace: string, name: string): string {
  return `${collectionPath(info, namespace)}/${encodeURIComponent(name)}`;
}

/** KindInfo for a `kind` string reported by the server, if it is one we know. */
export function infoForKind(kind: string): KindInfo | undefined {
  return KINDS.find((k) => k.kind === (kind as Kind));
}
