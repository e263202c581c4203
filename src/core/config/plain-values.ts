import { ValidationError } from "../errors.ts";

/** What the yaml library builds for the YAML 1.1 tags it resolves in the core schema. */
function yamlTagOf(v: object): string | undefined {
  if (v instanceof Set) return "!!set";
  if (v instanceof Map) return "!!omap or !!pairs";
  if (v instanceof Date) return "!!timestamp";
  if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) return "!!binary";
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null || Array.isArray(v) ? undefined : "an explicit tag";
}

/**
 * Refuses a parsed config document holding anything but JSON data. The yaml library resolves
 * `!!set`, `!!omap`, `!!pairs`, `!!timestamp` and `!!binary` to a Set, Map, Date or Uint8Array,
 * which validation reads as an object with no fields: `labels: !!set {app, tier}` was stored as
 * no labels at all. The error names the path under `root` (e.g. `documents[0].metadata.labels`).
 * Walks with its own stack: a document may be nested deeper than the call stack.
 */
export function refuseNonJsonValues(doc: unknown, root: string): void {
  const stack: { value: unknown; path: string }[] = [{ value: doc, path: root }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const { value: v, path } = item;
    if (v === null || typeof v !== "object") continue;
    const tag = yamlTagOf(v);
    if (tag !== undefined) {
      throw new ValidationError(`${path}: a YAML ${tag} value is not JSON data; write a plain mapping, list or string`, { field: path });
    }
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], path: `${path}[${i}]` });
    } else {
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i] as string;
        stack.push({ value: (v as Record<string, unknown>)[key], path: `${path}.${key}` });
      }
    }
  }
}
