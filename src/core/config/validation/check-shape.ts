import { parseDurationMs } from "../duration.ts";
import { field, index, type Report } from "./report.ts";
import type { Shape } from "./shape.ts";

/** Durations below this are refused, as Istio does. */
const MIN_DURATION_MS = 1;

/** Returned in prune mode for a value whose structure is unsound; its parent drops it. */
export const PRUNED: unique symbol = Symbol("pruned");

/**
 * Checks `value` against `shape`, reporting type errors, unknown fields,
 * missing required fields, bad enums and durations under `path`. Returns the
 * value with `null` fields removed (YAML `key:` means "unset", as in Kubernetes),
 * or `undefined` when the value itself was absent.
 *
 * With `prune`, a value with a wrong type, or an object missing a required
 * field, comes back as {@link PRUNED} and is dropped from its parent (a list
 * item, a map entry or an optional field; a required one prunes the parent in
 * turn), so what remains is structurally sound: the parts of an invalid
 * document that still parse.
 */
export function checkShape(value: unknown, shape: Shape, path: string, report: Report, o: { prune?: boolean } = {}): unknown {
  const prune = o.prune === true;
  if (value === null || value === undefined) {
    if (shape.required === true) {
      report.structural(path, "required field is missing");
      if (prune) return PRUNED;
    }
    return undefined;
  }
  if (shape.deprecated !== undefined) report.warn(path, `deprecated: ${shape.deprecated}`);
  switch (shape.type) {
    case "any":
      return value;
    case "string": {
      if (typeof value !== "string") return mismatch(path, "a string", value, report, prune);
      if (shape.enum !== undefined && !shape.enum.includes(value)) {
        report.error(path, `must be one of ${shape.enum.join(", ")} (got ${JSON.stringify(value)})`);
      } else if (shape.format !== undefined) {
        const ms = parseDurationMs(value);
        if (ms === undefined) report.error(path, `must be a duration like "1.5s" or "100ms" (got ${JSON.stringify(value)})`);
        else if (shape.format === "duration" && ms < MIN_DURATION_MS) report.error(path, `duration must be at least 1ms (got ${JSON.stringify(value)})`);
      }
      return value;
    }
    case "boolean":
      return typeof value === "boolean" ? value : mismatch(path, "a boolean", value, report, prune);
    case "number": {
      if (typeof value !== "number" || !Number.isFinite(value)) return mismatch(path, "a number", value, report, prune);
      if (shape.integer === true && !Number.isInteger(value)) report.error(path, `must be an integer (got ${value})`);
      else if (shape.min !== undefined && value < shape.min) report.error(path, `must be >= ${shape.min} (got ${value})`);
      else if (shape.max !== undefined && value > shape.max) report.error(path, `must be <= ${shape.max} (got ${value})`);
      return value;
    }
    case "array": {
      if (!Array.isArray(value)) return mismatch(path, "a list", value, report, prune);
      const items = value.map((item, i) => {
        if (item === null || item === undefined) {
          report.structural(index(path, i), "must not be null");
          return prune ? PRUNED : item;
        }
        return checkShape(item, shape.items, index(path, i), report, o);
      });
      return prune ? items.filter((x) => x !== PRUNED) : items;
    }
    case "map": {
      if (!isPlainObject(value)) return mismatch(path, "a mapping", value, report, prune);
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        if (v === null || v === undefined) {
          report.error(field(path, k), "must not be null");
          continue;
        }
        const checked = checkShape(v, shape.values, field(path, k), report, o);
        if (checked !== PRUNED) out[k] = checked;
      }
      return out;
    }
    case "object": {
      if (!isPlainObject(value)) return mismatch(path, "an object", value, report, prune);
      const out: Record<string, unknown> = {};
      let unsound = false;
      for (const [k, v] of Object.entries(value)) {
        const sub = Object.hasOwn(shape.fields, k) ? shape.fields[k] : undefined;
        if (sub === undefined) {
          const hint = closest(k, Object.keys(shape.fields));
          report.error(field(path, k), `unknown field "${k}"${hint === undefined ? "" : ` (did you mean "${hint}"?)`}`);
          continue;
        }
        const checked = checkShape(v, sub, field(path, k), report, o);
        if (checked === PRUNED) {
          if (sub.required === true) unsound = true;
        } else if (checked !== undefined) out[k] = checked;
      }
      for (const [k, sub] of Object.entries(shape.fields)) {
        if (sub.required === true && !Object.hasOwn(value, k)) {
          report.structural(field(path, k), "required field is missing");
          unsound = true;
        }
      }
      return prune && unsound ? PRUNED : out;
    }
  }
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function mismatch(path: string, expected: string, value: unknown, report: Report, prune: boolean): undefined | typeof PRUNED {
  report.structural(path, `must be ${expected} (got ${describe(value)})`);
  return prune ? PRUNED : undefined;
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "an object";
  // JSON has no NaN or infinities (YAML .nan, .inf, 1e400): say which one it was.
  if (typeof v === "number" && !Number.isFinite(v)) return `${String(v)}, not a finite number`;
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** The known field nearest to a misspelt one (edit distance <= 2, or same letters ignoring case). */
function closest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    const d = k.toLowerCase() === key.toLowerCase() ? 0 : editDistance(k, key);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length]!;
}
