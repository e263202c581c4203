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
  const flags = ctx.traceFlags & 0xff;
  // Sampled (01) and not sampled (00) are the only flags defined: no number formatting for them per attempt.
  const f = flags === 1 ? "01" : flags === 0 ? "00" : flags.toString(16).padStart(2, "0");
  return `00-${ctx.traceId}-${ctx.spanId}-${f}`;
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
