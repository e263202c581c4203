/**
 * RateLimitPolicies compiled for request time: which rules apply to a routed request and which
 * bucket key it counts against (Envoy Gateway semantics: every selector of a rule must match;
 * `Distinct` makes one bucket per header value or client IP).
 */
import { cidrContains, parseCidr, parseIp, type Cidr } from "../../core/policy/index.ts";
import type { RateLimitRule, RateLimitUnit } from "../../core/config/kinds/rate-limit-policy.ts";
import type { CompiledRateLimitPolicy } from "../../core/snapshot/snapshot-model.ts";

const WINDOW_SECONDS: Record<RateLimitUnit, number> = { Second: 1, Minute: 60, Hour: 3600 };

/** What a request is limited on. */
export interface RateLimitSubject {
  /** `<ns>/<name>` of the VirtualService whose route matched. */
  virtualService: string;
  routeName?: string;
  headers: ReadonlyMap<string, string>;
  clientIp?: string;
}

/** One counter the request must pass. */
export interface RateLimitBucket {
  key: string;
  limit: number;
  windowSeconds: number;
  policy: string;
}

interface CompiledRule {
  policy: string;
  index: number;
  rule: RateLimitRule;
  cidrs: (Cidr | undefined)[];
}

export class RateLimitTable {
  private readonly byVs = new Map<string, { route?: string; rules: CompiledRule[] }[]>();

  constructor(policies: readonly CompiledRateLimitPolicy[]) {
    for (const p of policies) {
      const policy = `${p.source.namespace}/${p.source.name}`;
      const rules = p.rules.map((rule, index) => ({
        policy,
        index,
        rule,
        cidrs: (rule.clientSelectors ?? []).map((s) => (s.sourceCIDR === undefined ? undefined : safeCidr(s.sourceCIDR.value))),
      }));
      for (const r of p.routes) {
        const list = this.byVs.get(r.virtualService) ?? [];
        list.push({ ...(r.route === undefined ? {} : { route: r.route }), rules });
        this.byVs.set(r.virtualService, list);
      }
    }
  }

  get empty(): boolean {
    return this.byVs.size === 0;
  }

  /** The buckets this request counts against (empty when no policy applies). */
  bucketsFor(s: RateLimitSubject): RateLimitBucket[] {
    const targets = this.byVs.get(s.virtualService);
    if (targets === undefined) return [];
    const out: RateLimitBucket[] = [];
    for (const t of targets) {
      if (t.route !== undefined && t.route !== s.routeName) continue;
      for (const r of t.rules) {
        const key = bucketKey(r, s);
        if (key === undefined) continue;
        out.push({ key, limit: r.rule.limit.requests, windowSeconds: WINDOW_SECONDS[r.rule.limit.unit], policy: r.policy });
      }
    }
    return out;
  }
}

function safeCidr(value: string): Cidr | undefined {
  return parseCidr(value);
}

/** The bucket key for a matching rule; undefined when the rule's selectors do not match. */
function bucketKey(r: CompiledRule, s: RateLimitSubject): string | undefined {
  const parts = [r.policy, String(r.index)];
  const selectors = r.rule.clientSelectors ?? [];
  for (let i = 0; i < selectors.length; i++) {
    const sel = selectors[i]!;
    for (const h of sel.headers ?? []) {
      const v = s.headers.get(h.name.toLowerCase());
      if ((h.type ?? "Exact") === "Distinct") {
        if (v === undefined) return undefined;
        parts.push(`h:${h.name}=${v}`);
      } else {
        const matched = v !== undefined && v === h.value;
        if (matched === (h.invert === true)) return undefined;
      }
    }
    if (sel.sourceCIDR !== undefined) {
      const cidr = r.cidrs[i];
      if (cidr === undefined || s.clientIp === undefined) return undefined;
      const ip = parseIp(s.clientIp);
      if (ip === undefined || !cidrContains(cidr, ip)) return undefined;
      if ((sel.sourceCIDR.type ?? "Exact") === "Distinct") parts.push(`ip:${s.clientIp}`);
    }
  }
  return parts.join("|");
}
