/**
 * Istio `headers.request|response` operations as an ordered list of
 * mutations. Within one `Headers` block Envoy removes first, then sets and
 * adds; route-level blocks apply before per-destination ones
 * (istio-semantics.md §2.9), so a destination `set` overrides a route `add`.
 */
import type { HeaderOperations } from "../config/kinds/virtual-service.ts";
import type { HeaderOp, HeaderSink } from "./types.ts";

/** True for header names that mean the authority (`Host`, `:authority`, any case). */
export function isAuthorityHeader(name: string): boolean {
  const n = name.toLowerCase();
  return n === "host" || n === ":authority";
}

/**
 * Converts one `HeaderOperations` block into ordered ops. `Host` and
 * `:authority` in `set` are not header ops but an authority rewrite; they are
 * returned separately.
 */
export function compileHeaderOperations(ops: HeaderOperations | undefined): { ops: HeaderOp[]; authority?: string } {
  const out: HeaderOp[] = [];
  let authority: string | undefined;
  if (ops === undefined) return { ops: out };
  for (const name of ops.remove ?? []) out.push({ op: "remove", name: name.toLowerCase() });
  for (const [name, value] of Object.entries(ops.set ?? {})) {
    if (isAuthorityHeader(name)) authority = value;
    else out.push({ op: "set", name: name.toLowerCase(), value });
  }
  for (const [name, value] of Object.entries(ops.add ?? {})) {
    if (isAuthorityHeader(name)) authority ??= value;
    else out.push({ op: "add", name: name.toLowerCase(), value });
  }
  return authority === undefined ? { ops: out } : { ops: out, authority };
}

/**
 * Applies ops in order to `target` (a Web `Headers` works).
 * @example applyHeaderOps(headers, [{ op: "set", name: "x-a", value: "1" }])
 */
export function applyHeaderOps(target: HeaderSink, ops: readonly HeaderOp[]): void {
  for (const o of ops) {
    if (o.op === "remove") target.delete(o.name);
    else if (o.op === "set") target.set(o.name, o.value);
    else target.append(o.name, o.value);
  }
}
