import type { RouteTable } from "./route-table.ts";
import type { RequestFacts, RequestPlan } from "./types.ts";

/** Decides what to do with one request. Pure; `rng` drives weights, faults and mirrors. */
export function planRequest(_table: RouteTable, _facts: RequestFacts, _rng: () => number = Math.random): RequestPlan {
  throw new Error("not implemented");
}
