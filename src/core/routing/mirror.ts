/**
 * `mirror` + `mirrorPercentage` (deprecated `mirrorPercent`) and `mirrors[]`.
 * An absent percentage mirrors 100%, `value: 0` mirrors nothing
 * (istio-semantics.md §7.11). Mirrors are fire-and-forget for the executor.
 */
import type { Destination, HTTPRoute } from "../config/kinds/virtual-service.ts";

export interface CompiledMirror {
  destination: Destination;
  percentage: number;
}

export function compileMirrors(r: HTTPRoute): CompiledMirror[] {
  const out: CompiledMirror[] = [];
  if (r.mirror !== undefined) out.push({ destination: r.mirror, percentage: r.mirrorPercentage?.value ?? r.mirrorPercent ?? 100 });
  for (const m of r.mirrors ?? []) out.push({ destination: m.destination, percentage: m.percentage?.value ?? 100 });
  return out;
}
