import type { HTTPMatchRequest, L4MatchAttributes, TLSMatchAttributes, VirtualServiceSpec } from "../kinds/virtual-service.ts";
import type { AnalysisContext } from "./context.ts";
import { finding, type Finding } from "./finding.ts";
import { httpMatchCovers, isCatchAllMatch, tcpMatchCovers, tlsMatchCovers } from "./match-coverage.ts";

type Section = "http" | "tcp" | "tls";
type AnyMatch = HTTPMatchRequest | L4MatchAttributes | TLSMatchAttributes;

const COVERS: { [S in Section]: (broad: AnyMatch, narrow: AnyMatch) => boolean } = {
  http: (a, b) => httpMatchCovers(a as HTTPMatchRequest, b as HTTPMatchRequest),
  tcp: (a, b) => tcpMatchCovers(a as L4MatchAttributes, b as L4MatchAttributes),
  tls: (a, b) => tlsMatchCovers(a as TLSMatchAttributes, b as TLSMatchAttributes),
};

/**
 * IST0130 / IST0131 for `http`, `tcp` and `tls` routes alike (first match wins,
 * semantics §2.1): a match entry already covered by an earlier, broader match
 * (an identical one, a shorter URI prefix, one without a method or header
 * condition, ...) never fires (IST0131, per match entry); a rule whose every
 * match is covered by earlier rules, or that follows a rule without matches,
 * is never used (IST0130).
 */
export function checkUnreachableRoutes(ctx: AnalysisContext): Finding[] {
  const out: Finding[] = [];
  for (const vs of ctx.of("VirtualService")) {
    for (const u of unreachableRoutes(vs.spec)) out.push(finding(u.code, vs, u.message, u.path));
  }
  return out;
}

/** One unused rule (IST0130) or ineffective match (IST0131) of a VirtualService spec. */
export interface UnreachableRoute {
  code: "IST0130" | "IST0131";
  path: string;
  message: string;
}

/** The unreachable rules and covered matches of one VirtualService (also reported as warnings by validation, as Istio's webhook does). */
export function unreachableRoutes(spec: VirtualServiceSpec): UnreachableRoute[] {
  return (["http", "tcp", "tls"] as const).flatMap((section) => checkSection(spec, section));
}

function checkSection(spec: VirtualServiceSpec, section: Section): UnreachableRoute[] {
  const out: UnreachableRoute[] = [];
  const finding = (code: UnreachableRoute["code"], _at: unknown, message: string, path: string): UnreachableRoute => ({ code, path, message });
  const vs = spec;
  const routes: { name?: string; match?: AnyMatch[] }[] = vs[section] ?? [];
  const covers = COVERS[section];
  const earlier: { match: AnyMatch; rule: number; index: number }[] = [];
  let catchAll: number | undefined;
  routes.forEach((route, i) => {
    const path = `spec.${section}[${i}]`;
    const rule = ruleName(route, i);
    if (catchAll !== undefined) {
      const reason = (route.match ?? []).length === 0 ? "only the last rule can have no matches" : `rule ${ruleName(routes[catchAll]!, catchAll)} before it matches every request`;
      out.push(finding("IST0130", vs, `VirtualService rule ${rule} not used (${reason}).`, path));
      return;
    }
    const matches = route.match ?? [];
    if (matches.length === 0) {
      catchAll = i;
      return;
    }
    let coveredByEarlierRules = 0;
    const ineffective: UnreachableRoute[] = [];
    matches.forEach((m, j) => {
      const by = earlier.find((e) => covers(e.match, m));
      if (by !== undefined) {
        if (by.rule < i) coveredByEarlierRules++;
        const what = by.rule === i ? `match ${matchName(by.match, by.index)} of the same rule` : `rule ${ruleName(routes[by.rule]!, by.rule)} match ${matchName(by.match, by.index)}`;
        ineffective.push(
          finding("IST0131", vs, `VirtualService rule ${rule} match ${matchName(m, j)} is not used (duplicate/overlapping match in ${what}).`, `${path}.match[${j}]`),
        );
      }
      earlier.push({ match: m, rule: i, index: j });
    });
    // As Istio does: every covered match is reported, and the rule as well when none of its matches can fire.
    out.push(...ineffective);
    if (coveredByEarlierRules === matches.length) out.push(finding("IST0130", vs, `VirtualService rule ${rule} not used (all matches used by prior rules).`, path));
    if (matches.some(isCatchAllMatch)) catchAll = i;
  });
  return out;
}

function ruleName(route: { name?: string }, i: number): string {
  return route.name !== undefined && route.name !== "" ? JSON.stringify(route.name) : `#${i}`;
}

function matchName(m: AnyMatch, j: number): string {
  const name = (m as HTTPMatchRequest).name;
  return name !== undefined && name !== "" ? JSON.stringify(name) : `#${j}`;
}
