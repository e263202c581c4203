import { KINDS, resolveKindName, type Kind, type KindInfo } from "../core/config/resource.ts";
import { UsageError } from "./cli-errors.ts";
import { nearest } from "./nearest.ts";

/** Every spelling of a kind the CLI accepts, without a group: kind, singular, plural, short names. */
function spellings(k: KindInfo): string[] {
  return [k.kind.toLowerCase(), k.plural, ...k.shortNames];
}

/**
 * Resolves a KIND argument the way kubectl does: `vs`, `virtualservice`,
 * `virtualservices`, `VirtualService`, or any of them qualified by the API group
 * (`virtualservices.networking.istio.io`) or group and version
 * (`virtualservices.v1.networking.istio.io`). An unknown one fails with a usage
 * error suggesting the nearest known name.
 */
export function resolveKindArg(text: string): KindInfo {
  const info = resolveQualified(text.trim());
  if (info !== undefined) return info;
  const dot = text.indexOf(".");
  const byName = dot > 0 ? resolveKindName(text.slice(0, dot)) : undefined;
  if (byName !== undefined) {
    throw new UsageError(`KIND: ${JSON.stringify(text)}: ${byName.kind} is in API group ${byName.group}; did you mean ${JSON.stringify(`${byName.plural}.${byName.group}`)}?`, { field: "KIND" });
  }
  const all = KINDS.flatMap((k) => [...spellings(k), ...spellings(k).map((s) => `${s}.${k.group}`)]);
  const guess = nearest(text.toLowerCase(), all);
  const known = KINDS.map((k) => `${k.kind.toLowerCase()} (${[k.plural, ...k.shortNames].join(", ")})`).join("; ");
  throw new UsageError(
    `KIND: unknown resource type ${JSON.stringify(text)}${guess === undefined ? "" : `; did you mean ${JSON.stringify(guess)}?`}\nknown: ${known}`,
    { field: "KIND" },
  );
}

function resolveQualified(text: string): KindInfo | undefined {
  const plain = resolveKindName(text);
  if (plain !== undefined) return plain;
  const dot = text.indexOf(".");
  if (dot <= 0) return undefined;
  const name = text.slice(0, dot).toLowerCase();
  const rest = text.slice(dot + 1).toLowerCase();
  return KINDS.find((k) => {
    if (!spellings(k).includes(name)) return false;
    if (rest === k.group) return true;
    // kubectl's `resource.version.group`.
    const v = rest.indexOf(".");
    return v > 0 && rest.slice(v + 1) === k.group && k.versions.includes(rest.slice(0, v));
  });
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
