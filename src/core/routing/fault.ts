/**
 * Fault injection (istio-semantics.md §2.7). `percentage.value` is a double
 * 0-100; a delay with neither `percentage` nor the deprecated `percent` is
 * 0% (Istio `TranslateFault`), an abort without `percentage` is 0% too.
 * Delay first, then abort, each with its own roll (Envoy fault filter).
 */
import type { HTTPFaultInjection } from "../config/kinds/virtual-service.ts";
import { parseDurationMs } from "../config/duration.ts";
import type { FaultPlan } from "./types.ts";

export interface CompiledFault {
  delay?: { ms: number; percentage: number };
  abort?: { value: { status: number } | { grpcStatus: string }; percentage: number };
}

export function compileFault(f: HTTPFaultInjection | undefined): CompiledFault | undefined {
  if (f === undefined) return undefined;
  const out: CompiledFault = {};
  if (f.delay?.fixedDelay !== undefined) {
    const ms = parseDurationMs(f.delay.fixedDelay);
    if (ms !== undefined) out.delay = { ms, percentage: f.delay.percentage?.value ?? f.delay.percent ?? 0 };
  }
  if (f.abort !== undefined) {
    const percentage = f.abort.percentage?.value ?? 0;
    if (f.abort.httpStatus !== undefined) out.abort = { value: { status: f.abort.httpStatus }, percentage };
    else if (f.abort.grpcStatus !== undefined) out.abort = { value: { grpcStatus: f.abort.grpcStatus }, percentage };
  }
  return out.delay === undefined && out.abort === undefined ? undefined : out;
}

/** True with probability `percentage`/100. */
export function rolls(percentage: number, rng: () => number): boolean {
  if (percentage >= 100) return true;
  if (percentage <= 0) return false;
  return rng() * 100 < percentage;
}

/** The faults that fire for one request, or `undefined`. */
export function rollFault(f: CompiledFault | undefined, rng: () => number): FaultPlan | undefined {
  if (f === undefined) return undefined;
  const out: FaultPlan = {};
  if (f.delay !== undefined && rolls(f.delay.percentage, rng)) out.delayMs = f.delay.ms;
  if (f.abort !== undefined && rolls(f.abort.percentage, rng)) out.abort = f.abort.value;
  return out.delayMs === undefined && out.abort === undefined ? undefined : out;
}
