/** One field-level difference, as `strait diff` prints it. */
export interface FieldChange {
  /** Dotted path with `[i]` for list items, e.g. `spec.http[0].route[1].weight`. */
  path: string;
  op: "add" | "remove" | "replace";
  before?: unknown;
  after?: unknown;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Structural equality of JSON values (object key order and `undefined` members ignored). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b) || a.length !== b.length) return false;
    return a.every((v, i) => jsonEqual(v, b[i]));
  }
  if (!isObject(a) || !isObject(b)) return false;
  const ak = Object.keys(a).filter((k) => a[k] !== undefined);
  const bk = Object.keys(b).filter((k) => b[k] !== undefined);
  if (ak.length !== bk.length) return false;
  return ak.every((k) => jsonEqual(a[k], b[k]));
}

/**
 * Field-level differences between two JSON values. Objects are compared
 * member by member; lists of equal length item by item; anything else is
 * replaced whole.
 *
 * @example diffFields({ spec: { a: 1 } }, { spec: { a: 2 } }) // [{ path: "spec.a", op: "replace", before: 1, after: 2 }]
 */
export function diffFields(before: unknown, after: unknown, path = ""): FieldChange[] {
  if (jsonEqual(before, after)) return [];
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((k) => {
      const p = path === "" ? k : `${path}.${k}`;
      const b = before[k];
      const a = after[k];
      if (b === undefined && a !== undefined) return [{ path: p, op: "add" as const, after: a }];
      if (b !== undefined && a === undefined) return [{ path: p, op: "remove" as const, before: b }];
      return diffFields(b, a, p);
    });
  }
  if (Array.isArray(before) && Array.isArray(after) && before.length === after.length) {
    return before.flatMap((b, i) => diffFields(b, after[i], `${path}[${i}]`));
  }
  return [{ path: path === "" ? "." : path, op: "replace", before, after }];
}
