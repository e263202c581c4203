import type { HTTPMatchRequest, L4MatchAttributes } from "../kinds/virtual-service.ts";
import type { AnalysisContext } from "./context.ts";
import { finding, type Finding } from "./finding.ts";

/**
 * IST0130 / IST0131: routes are first-match-wins (semantics §2.1), so a route
 * after a catch-all can never be used, and a match identical to an earlier one
 * never fires.
 */
export function checkUnreachableRoutes(ctx: AnalysisContext): Finding[] {
  const out: Finding[] = [];
  for (const vs of ctx.of("VirtualService")) {
    for (const section of ["http", "tcp"] as const) {
      const routes: { match?: (HTTPMatchRequest | L4MatchAttributes)[] }[] = vs.spec[section] ?? [];
      let catchAll: number | undefined;
      const seen: { key: string; route: number; match: number }[] = [];
      routes.forEach((route, i) => {
        const path = `spec.${section}[${i}]`;
        if (catchAll !== undefined) {
          out.push(finding("IST0130", vs, `VirtualService rule #${i} not used (only the last rule can have no matches; rule #${catchAll} matches every request)`, path));
          return;
        }
        const matches = route.match ?? [];
        if (matches.length === 0 || matches.some(isCatchAllMatch)) {
          catchAll = i;
          return;
        }
        const duplicates: number[] = [];
        matches.forEach((m, j) => {
          const key = canonicalMatch(m);
          const prior = seen.find((s) => s.key === key);
          if (prior !== undefined) duplicates.push(j);
          else seen.push({ key, route: i, match: j });
        });
        if (duplicates.length === matches.length) {
          out.push(finding("IST0130", vs, `VirtualService rule #${i} not used (all matches used by prior rules)`, path));
          return;
        }
        for (const j of duplicates) {
          const prior = seen.find((s) => s.key === canonicalMatch(matches[j]!))!;
          out.push(
            finding("IST0131", vs, `VirtualService rule #${i} match #${j} is not used (duplicate of rule #${prior.route} match #${prior.match})`, `${path}.match[${j}]`),
          );
        }
      });
    }
  }
  return out;
}

/** A match that only names itself (no request or proxy condition) matches everything. */
function isCatchAllMatch(m: HTTPMatchRequest | L4MatchAttributes): boolean {
  return Object.keys(m).every((k) => k === "name" || k === "statPrefix");
}

/** Stable JSON of a match, ignoring its name and key order. */
function canonicalMatch(m: HTTPMatchRequest | L4MatchAttributes): string {
  const { name: _name, statPrefix: _stat, ...rest } = m as HTTPMatchRequest;
  return stableJson(rest);
}

function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(",")}]`;
  if (typeof v === "object" && v !== null) {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}
