import { StraitError, ValidationError, type ErrorCategory } from "../../core/errors.ts";

/**
 * A domain error (bad PEM, bad SPIFFE ID, a refused credential, ...) re-raised
 * against the request field or header it came from; keeps the code and category.
 */
export class FieldError extends ValidationError {
  override readonly code: string;
  override readonly category: ErrorCategory;
  constructor(field: string, inner: StraitError) {
    // Domain errors already prefix their own field name ("csr: ..."); re-prefix with the request path.
    const own = inner.field !== undefined && inner.message.startsWith(`${inner.field}: `) ? inner.message.slice(inner.field.length + 2) : inner.message;
    super(`${field}: ${own}`, { field, cause: inner });
    this.code = inner.code;
    this.category = inner.category;
  }
}

/** Runs `fn`, attributing any StraitError it throws to `field`. */
export async function atField<T>(field: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof StraitError && err.category === "invalid") throw new FieldError(field, err);
    throw err;
  }
}

/** Sync variant of `atField`. */
export function atFieldSync<T>(field: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof StraitError && err.category === "invalid") throw new FieldError(field, err);
    throw err;
  }
}

function typeName(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
}

/**
 * The value as a plain JSON object, or a ValidationError naming `field`. With
 * `allowed`, any other key is refused too, so a typo such as `ttlSecond` is an
 * error rather than a silently applied default.
 */
export function objectAt(v: unknown, field: string, allowed?: readonly string[]): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new ValidationError(`${field}: must be an object, got ${typeName(v)}`, { field });
  const o = v as Record<string, unknown>;
  if (allowed !== undefined) {
    const unknown = Object.keys(o).find((key) => !allowed.includes(key));
    if (unknown !== undefined) {
      const shown = unknown.length > 64 ? `${unknown.slice(0, 64)}...` : unknown;
      const path = field === "body" ? shown : `${field}.${shown}`;
      throw new ValidationError(`${path}: unknown field; expected ${allowed.join(", ")}`, { field: path });
    }
  }
  return o;
}

/** `o[key]` as a non-empty string of at most `maxLength` characters; errors name `path`. */
export function stringAt(o: Record<string, unknown>, key: string, path: string = key, maxLength = 16384): string {
  const v = o[key];
  if (v === undefined) throw new ValidationError(`${path}: required`, { field: path });
  if (typeof v !== "string") throw new ValidationError(`${path}: must be a string, got ${typeName(v)}`, { field: path });
  if (v.trim() === "") throw new ValidationError(`${path}: must not be empty`, { field: path });
  if (v.length > maxLength) throw new ValidationError(`${path}: longer than ${maxLength} characters`, { field: path });
  return v;
}

// C0 controls, DEL and C1 controls (which include the 8-bit CSI of terminal escapes).
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Like `stringAt`, for free text that people read back (audit log, CLI tables):
 * control characters are refused, so a value cannot forge log lines or carry
 * terminal escape sequences to an operator's screen.
 */
export function plainTextAt(o: Record<string, unknown>, key: string, path: string = key, maxLength = 16384): string {
  const v = stringAt(o, key, path, maxLength);
  const bad = CONTROL_CHARACTER.exec(v);
  if (bad !== null) {
    const code = `U+${(bad[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;
    throw new ValidationError(`${path}: must not contain control characters (found ${code} at index ${bad.index})`, { field: path });
  }
  return v;
}

/** Like `stringAt`, but absent is `undefined`. */
export function optionalStringAt(o: Record<string, unknown>, key: string, path: string = key, maxLength = 16384): string | undefined {
  return o[key] === undefined ? undefined : stringAt(o, key, path, maxLength);
}

/** `o[key]` as an integer within `range`; errors name `path`. */
export function integerAt(o: Record<string, unknown>, key: string, range: { min: number; max: number }, path: string = key): number {
  const v = o[key];
  if (v === undefined) throw new ValidationError(`${path}: required`, { field: path });
  if (typeof v !== "number" || !Number.isInteger(v)) throw new ValidationError(`${path}: must be an integer, got ${typeName(v)}`, { field: path });
  if (v < range.min || v > range.max) throw new ValidationError(`${path}: must be between ${range.min} and ${range.max}, got ${v}`, { field: path });
  return v;
}

/** Like `integerAt`, but absent is `undefined`. */
export function optionalIntegerAt(o: Record<string, unknown>, key: string, range: { min: number; max: number }, path: string = key): number | undefined {
  return o[key] === undefined ? undefined : integerAt(o, key, range, path);
}

/** `o[key]` as a boolean, absent is `undefined`; errors name `path`. */
export function optionalBooleanAt(o: Record<string, unknown>, key: string, path: string = key): boolean | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== "boolean") throw new ValidationError(`${path}: must be a boolean, got ${typeName(v)}`, { field: path });
  return v;
}

/** `o[key]` as an array with a length within `range`; errors name `path`. */
export function arrayAt(o: Record<string, unknown>, key: string, range: { min: number; max: number }, path: string = key): unknown[] {
  const v = o[key];
  if (v === undefined) throw new ValidationError(`${path}: required`, { field: path });
  if (!Array.isArray(v)) throw new ValidationError(`${path}: must be an array, got ${typeName(v)}`, { field: path });
  if (v.length < range.min || v.length > range.max) throw new ValidationError(`${path}: must have ${range.min} to ${range.max} items, got ${v.length}`, { field: path });
  return v;
}

/** `o[key]` as one of `values`; errors name `path`. */
export function enumAt<T extends string>(o: Record<string, unknown>, key: string, values: readonly T[], path: string = key): T {
  const v = stringAt(o, key, path);
  if (!(values as readonly string[]).includes(v)) throw new ValidationError(`${path}: must be one of ${values.join(", ")}, got ${JSON.stringify(v)}`, { field: path });
  return v as T;
}

/** A path parameter or query value that must be a positive integer. */
export function positiveIntegerParam(raw: string | undefined, field: string): number {
  if (raw === undefined || !/^[1-9][0-9]{0,14}$/.test(raw)) throw new ValidationError(`${field}: must be a positive integer`, { field });
  return Number(raw);
}
