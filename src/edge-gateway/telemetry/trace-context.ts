/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): `traceparent` parsing and
 * formatting, `tracestate` passed through when well-formed.
 */
import { TraceFlags, type SpanContext } from "@opentelemetry/api";

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);
/** Spec limit: 32 list members; a generous byte bound keeps hostile headers out of upstream requests. */
const MAX_TRACESTATE_CHARS = 512;

/** The remote parent from `traceparent` (undefined when absent or invalid: a new trace starts). */
export function parseTraceparent(header: string | null | undefined, tracestate?: string | null): SpanContext | undefined {
  if (header === null || header === undefined) return undefined;
  const m = TRACEPARENT.exec(header.trim());
  if (m === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = m;
  if (version === "ff" || traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  // Version 00 has exactly four fields; later versions may append more.
  if (version === "00" && rest !== undefined) return undefined;
  const ctx: SpanContext = { traceId: traceId!, spanId: spanId!, traceFlags: parseInt(flags!, 16) & TraceFlags.SAMPLED, isRemote: true };
  const state = validTracestate(tracestate);
  return state === undefined ? ctx : { ...ctx, traceState: { serialize: () => state, get: () => undefined, set() { return this; }, unset() { return this; } } };
}

/** `traceparent` for a span context (version 00). */
export function formatTraceparent(ctx: SpanContext): string {
  return `00-${ctx.traceId}-${ctx.spanId}-${(ctx.traceFlags & 0xff).toString(16).padStart(2, "0")}`;
}

/** The `tracestate` value to forward, or undefined when missing or malformed. */
export function validTracestate(value: string | null | undefined): string | undefined {
  if (value === null || value === undefined) return undefined;
  const v = value.trim();
  if (v === "" || v.length > MAX_TRACESTATE_CHARS) return undefined;
  // list-member = key "=" value, comma separated; printable ASCII without "," or "=" in values.
  for (const member of v.split(",")) {
    const m = member.trim();
    if (m === "") continue;
    if (!/^[a-z0-9][_0-9a-z\-*/@]{0,255}=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$/.test(m)) return undefined;
  }
  return v;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * Random bytes drawn from a pool refilled 4 KiB at a time: ids are needed several times per
 * request, and one `getRandomValues` call per id cost more than the ids themselves.
 */
const POOL_BYTES = 4096;
let pool = new Uint8Array(0);
let poolAt = 0;

function takeRandom(n: number): number {
  if (poolAt + n > pool.length) {
    pool = crypto.getRandomValues(new Uint8Array(POOL_BYTES));
    poolAt = 0;
  }
  const at = poolAt;
  poolAt += n;
  return at;
}

/** Random lowercase hex of `bytes` bytes (never all zero). */
export function randomHexId(bytes: number): string {
  const at = takeRandom(bytes);
  let out = "";
  let zero = true;
  for (let i = at; i < at + bytes; i++) {
    if (pool[i] !== 0) zero = false;
    out += HEX[pool[i]!];
  }
  return zero ? `01${out.slice(2)}` : out;
}

/** A random (version 4) UUID, from the same pool. */
export function randomUuid(): string {
  const at = takeRandom(16);
  let out = "";
  for (let i = 0; i < 16; i++) {
    let byte = pool[at + i]!;
    if (i === 6) byte = (byte & 0x0f) | 0x40;
    else if (i === 8) byte = (byte & 0x3f) | 0x80;
    if (i === 4 || i === 6 || i === 8 || i === 10) out += "-";
    out += HEX[byte];
  }
  return out;
}
