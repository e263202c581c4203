import type { ResourceOf } from "../resource.ts";
import type { AnalysisContext } from "./context.ts";
import { finding, type Finding } from "./finding.ts";

type VirtualService = ResourceOf<"VirtualService">;

/**
 * VirtualService delegation (semantics §2.4): a delegate must have no hosts,
 * only one level of delegation is allowed (STR0005), and a delegate nobody
 * refers to is dead config (STR0006). A missing delegate is IST0101.
 */
export function checkDelegation(ctx: AnalysisContext): Finding[] {
  const out: Finding[] = [];
  const all = ctx.of("VirtualService");
  const find = (ns: string, name: string) => all.find((v) => v.metadata.namespace === ns && v.metadata.name === name);
  const referenced = new Set<VirtualService>();
  for (const root of all) {
    root.spec.http?.forEach((route, i) => {
      const d = route.delegate;
      if (d?.name === undefined) return;
      const target = find(d.namespace ?? root.metadata.namespace, d.name);
      if (target === undefined) return; // IST0101 reports it
      referenced.add(target);
      const where = `${target.metadata.namespace}/${target.metadata.name}`;
      if ((target.spec.hosts ?? []).length > 0) {
        out.push(finding("STR0005", root, `delegate VirtualService ${where} has hosts; only a VirtualService without hosts can be a delegate, so this route is dropped`, `spec.http[${i}].delegate`));
      } else if ((root.spec.hosts ?? []).length === 0) {
        out.push(finding("STR0005", root, `this VirtualService is itself a delegate and delegates to ${where}; only one level of delegation is allowed, so this route is dropped`, `spec.http[${i}].delegate`));
      }
    });
  }
  for (const vs of all) {
    if ((vs.spec.hosts ?? []).length > 0 || referenced.has(vs)) continue;
    out.push(finding("STR0006", vs, "VirtualService has no hosts (a delegate) but no VirtualService delegates to it, so it is never used", "spec.hosts"));
  }
  return out;
}
