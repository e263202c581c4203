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
 * Visits every value of parsed request data depth first, in document order, with its path under
 * `root` (`a.b[2].c`; a key directly under an empty root is its own path), and every object key
 * as its object is entered. Walks with its own stack: data may be nested deeper than the call stack.
 */
export function walkParsedData(
  data: unknown,
  root: string,
  visit: { value?: (value: unknown, path: string) => void; key?: (key: string, path: string) => void },
): void {
  const stack: { value: unknown; path: string }[] = [{ value: data, path: root }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const { value: v, path } = item;
    visit.value?.(v, path);
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], path: `${path}[${i}]` });
    } else if (v !== null && typeof v === "object") {
      const keys = Object.keys(v);
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i] as string;
        const at = path === "" ? key : `${path}.${key}`;
        visit.key?.(key, at);
        stack.push({ value: (v as Record<string, unknown>)[key], path: at });
      }
    }
  }
}

/**
 * Refuses a parsed config document holding anything but JSON data. The yaml library resolves
 * `!!set`, `!!omap`, `!!pairs`, `!!timestamp` and `!!binary` to a Set, Map, Date or Uint8Array,
 * which validation reads as an object with no fields: `labels: !!set {app, tier}` was stored as
 * no labels at all. The error names the path under `root` (e.g. `documents[0].metadata.labels`).
 */
export function refuseNonJsonValues(doc: unknown, root: string): void {
  walkParsedData(doc, root, {
    value(v, path) {
      if (v === null || typeof v !== "object") return;
      const tag = yamlTagOf(v);
      if (tag !== undefined) {
        throw new ValidationError(`${path}: a YAML ${tag} value is not JSON data; write a plain mapping, list or string`, { field: path });
      }
    },
  });
}
