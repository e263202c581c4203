/**
 * Operator configuration vars (wrangler.toml `[vars]`, process environment): unset or empty means
 * the documented default; anything else must be valid, or the component says so naming the var.
 * A typo such as `SNAPSHOT_BLOB_RETENTION_SECONDS = "10m"` is never silently replaced by a default.
 *
 * @example
 *   const n = numberVar(env.SNAPSHOT_MAX_BLOB_BYTES, { name: "SNAPSHOT_MAX_BLOB_BYTES", fallback: 20 * MiB, min: 1024, max: 25 * MiB, integer: true });
 */
import { UnavailableError } from "./errors.ts";

/** Operator configuration errors are the server's problem (503), never the client's. */
export function misconfigured(name: string, why: string): UnavailableError {
  return new UnavailableError(`${name}: ${why}`, { field: name });
}

export interface NumberVarSpec {
  name: string;
  /** Used when the var is unset or empty (whitespace only). */
  fallback: number;
  min: number;
  max: number;
  /** Whole numbers only (counts, bytes). */
  integer?: boolean;
}

export interface EnumVarSpec<T extends string> {
  name: string;
  fallback: T;
  allowed: readonly T[];
}

/** A var's value, or why it is not acceptable (the message after `NAME: `). */
export type VarParse<T> = { ok: true; value: T } | { ok: false; why: string };

// Plain decimal only: Number() would also take "0x10", "1e3" or "Infinity", none of which an operator means.
const INTEGER = /^[0-9]{1,16}$/;
const DECIMAL = /^[0-9]{1,16}(\.[0-9]{1,9})?$/;
const MAX_QUOTED_CHARS = 64;

function quoted(raw: string): string {
  return JSON.stringify(raw.length > MAX_QUOTED_CHARS ? `${raw.slice(0, MAX_QUOTED_CHARS)}...` : raw);
}

function isUnset(raw: string | undefined): raw is undefined {
  return raw === undefined || raw.trim() === "";
}

/** Parses a numeric var without throwing (for specs that say "warn and use the default"). */
export function parseNumberVar(raw: string | undefined, spec: NumberVarSpec): VarParse<number> {
  if (isUnset(raw)) return { ok: true, value: spec.fallback };
  const text = raw.trim();
  const n = (spec.integer === true ? INTEGER : DECIMAL).test(text) ? Number(text) : Number.NaN;
  if (Number.isFinite(n) && n >= spec.min && n <= spec.max) return { ok: true, value: n };
  const kind = spec.integer === true ? "an integer" : "a number";
  return { ok: false, why: `must be ${kind} from ${spec.min} to ${spec.max}, got ${quoted(raw)}` };
}

/** Parses an enumerated var without throwing. */
export function parseEnumVar<T extends string>(raw: string | undefined, spec: EnumVarSpec<T>): VarParse<T> {
  if (isUnset(raw)) return { ok: true, value: spec.fallback };
  const text = raw.trim();
  const hit = spec.allowed.find((a) => a === text);
  if (hit !== undefined) return { ok: true, value: hit };
  return { ok: false, why: `must be one of ${spec.allowed.join(", ")}, got ${quoted(raw)}` };
}

function orThrow<T>(name: string, r: VarParse<T>): T {
  if (!r.ok) throw misconfigured(name, r.why);
  return r.value;
}

/** A numeric var: the fallback when unset or empty, else a decimal in [min, max] or an `UnavailableError` naming the var. */
export function numberVar(raw: string | undefined, spec: NumberVarSpec): number {
  return orThrow(spec.name, parseNumberVar(raw, spec));
}

/** An enumerated var: the fallback when unset or empty, else one of `allowed` or an `UnavailableError` naming the var. */
export function enumVar<T extends string>(raw: string | undefined, spec: EnumVarSpec<T>): T {
  return orThrow(spec.name, parseEnumVar(raw, spec));
}
