/**
 * First-match route lookup without testing every route. Match entries are
 * numbered in table order; exact paths go into hash maps, prefixes into
 * maps bucketed by prefix length, and only entries the index cannot decide
 * (regex uri, no uri) are scanned. The winner is the smallest entry number
 * among the candidates that pass, so the first matching entry in config
 * order still wins.
 */
import type { CompiledMatch, ViewPredicate } from "./request-match.ts";
import { RequestView } from "./request-view.ts";
import type { RequestFacts } from "./types.ts";

export interface IndexedEntry<R> {
  /** Position of the entry in first-match order. */
  readonly ordinal: number;
  readonly value: R;
  readonly conditions: readonly ViewPredicate[];
}

/**
 * Prefixes keyed by a rolling hash of their characters, so a lookup hashes
 * the path once, checks the hash at each configured prefix length and never
 * slices strings; candidates are verified with `startsWith`.
 */
interface PrefixBuckets<R> {
  /** Distinct prefix lengths, ascending. */
  lengths: number[];
  /** Longest configured prefix. */
  max: number;
  byHash: Map<number, { prefix: string; entries: IndexedEntry<R>[] }[]>;
}

/** FNV-1a step, kept in int32 range (`| 0`) so the hot loop never allocates heap numbers. */
function step(h: number, c: number): number {
  return Math.imul(h ^ c, 0x01000193) | 0;
}

const FNV_OFFSET = 0x811c9dc5 | 0;

function prefixHash(s: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < s.length; i++) h = step(h, s.charCodeAt(i));
  // Mix the length in, so equal hashes at different lengths do not share a bucket.
  return step(h, s.length);
}

export class RouteIndex<R> {
  private readonly exact = new Map<string, IndexedEntry<R>[]>();
  private readonly exactCi = new Map<string, IndexedEntry<R>[]>();
  private readonly prefix: PrefixBuckets<R> = { lengths: [], max: -1, byHash: new Map() };
  private readonly prefixCi: PrefixBuckets<R> = { lengths: [], max: -1, byHash: new Map() };
  private readonly scan: IndexedEntry<R>[] = [];
  private next = 0;
  private hasCi = false;
  /**
   * Every case-sensitive exact path: its entry when the path alone decides
   * the answer (see `buildStatic`), else `null`. Built on first use.
   */
  private staticMap: Map<string, IndexedEntry<R> | null> | undefined;
  private readonly ctx: LookupContext = { facts: undefined, view: undefined };

  get size(): number {
    return this.next;
  }

  /** Adds an entry after every entry added so far. */
  add(match: CompiledMatch, value: R): void {
    this.staticMap = undefined;
    const entry: IndexedEntry<R> = { ordinal: this.next++, value, conditions: match.conditions };
    const key = match.uriKey;
    if (key.kind === "exact") {
      push(key.ignoreCase ? this.exactCi : this.exact, key.value, entry);
      this.hasCi ||= key.ignoreCase;
    } else if (key.kind === "prefix") {
      const b = key.ignoreCase ? this.prefixCi : this.prefix;
      this.hasCi ||= key.ignoreCase;
      if (!b.lengths.includes(key.value.length)) {
        b.lengths.push(key.value.length);
        b.lengths.sort((x, y) => x - y);
        b.max = Math.max(b.max, key.value.length);
      }
      const h = prefixHash(key.value);
      let bucket = b.byHash.get(h);
      if (bucket === undefined) b.byHash.set(h, (bucket = []));
      let slot = bucket.find((x) => x.prefix === key.value);
      if (slot === undefined) bucket.push((slot = { prefix: key.value, entries: [] }));
      slot.entries.push(entry);
    } else {
      this.scan.push(entry);
    }
  }

  /**
   * The answer for a query-less path that an unconditional exact entry
   * decides on its own, or `undefined` when the full match is needed. Like
   * Hono's static map, but only where Istio's first-match order allows it.
   */
  staticMatch(path: string): IndexedEntry<R> | null | undefined {
    return (this.staticMap ??= this.buildStatic()).get(path);
  }

  /**
   * An exact path E goes into the static map when its first exact entry has no
   * other conditions and no earlier entry could match E: no earlier prefix
   * (either case mode) that E starts with, no earlier case-insensitive exact
   * entry for E, no earlier entry the index must scan.
   */
  private buildStatic(): Map<string, IndexedEntry<R> | null> {
    const out = new Map<string, IndexedEntry<R> | null>();
    const firstScan = this.scan[0]?.ordinal ?? Infinity;
    for (const [path, list] of this.exact) {
      const first = list[0]!;
      out.set(path, null);
      if (first.conditions.length > 0 || first.ordinal > firstScan) continue;
      const lower = path.toLowerCase();
      const earlier = (entries: readonly IndexedEntry<R>[] | undefined) => entries !== undefined && entries[0]!.ordinal < first.ordinal;
      if (earlier(this.exactCi.get(lower))) continue;
      const blocked = earlierPrefix(this.prefix, path, first.ordinal) || earlierPrefix(this.prefixCi, lower, first.ordinal);
      if (!blocked) out.set(path, first);
    }
    return out;
  }

  /**
   * The first entry (in add order) whose uri and conditions match: the
   * smallest ordinal over each candidate list's first passing entry. A list
   * stops being scanned at the best ordinal found so far.
   */
  match(view: RequestView): IndexedEntry<R> | undefined {
    return this.matchPaths(view.facts, view.path, view.fullPath, view);
  }

  /**
   * `match` without a prepared view: `path` (no query) and `fullPath` come
   * from the caller, and a view is built only if an entry has conditions
   * beyond the uri. `noExact`: the caller knows (from `staticMatch`) that no
   * case-sensitive exact entry has this path.
   */
  matchPaths(facts: RequestFacts, path: string, fullPath: string, view?: RequestView, noExact = false): IndexedEntry<R> | undefined {
    const ctx = this.ctx;
    ctx.facts = facts;
    ctx.view = view;
    let best = noExact ? undefined : firstBelow(this.exact.get(path), ctx, undefined);
    best = bestPrefix(this.prefix, fullPath, ctx, best);
    if (this.hasCi) {
      const v = viewOf(ctx);
      best = firstBelow(this.exactCi.get(v.lowerPathOnly()), ctx, best);
      best = bestPrefix(this.prefixCi, v.lowerFullPath(), ctx, best);
    }
    if (this.scan.length > 0) best = firstBelow(this.scan, ctx, best);
    ctx.view = undefined;
    return best;
  }
}

/** Per-index lookup state, reused: a lookup is synchronous and never re-entered. */
interface LookupContext {
  facts: RequestFacts | undefined;
  view: RequestView | undefined;
}

function viewOf(ctx: LookupContext): RequestView {
  return (ctx.view ??= new RequestView(ctx.facts!));
}

function push<R>(map: Map<string, IndexedEntry<R>[]>, key: string, entry: IndexedEntry<R>): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [entry]);
  else list.push(entry);
}

/** True when some prefix entry that `path` starts with comes before `ordinal`. */
function earlierPrefix<R>(b: PrefixBuckets<R>, path: string, ordinal: number): boolean {
  let h = FNV_OFFSET;
  let len = 0;
  for (const target of b.lengths) {
    if (target > path.length) return false;
    for (; len < target; len++) h = step(h, path.charCodeAt(len));
    for (const slot of b.byHash.get(step(h, len)) ?? []) {
      if (slot.prefix.length === len && path.startsWith(slot.prefix) && slot.entries[0]!.ordinal < ordinal) return true;
    }
  }
  return false;
}

function bestPrefix<R>(b: PrefixBuckets<R>, path: string, ctx: LookupContext, best: IndexedEntry<R> | undefined): IndexedEntry<R> | undefined {
  const lengths = b.lengths;
  const n = lengths.length;
  if (n === 0) return best;
  const limit = path.length < b.max ? path.length : b.max;
  let h = FNV_OFFSET;
  let len = 0;
  for (let next = 0; next < n; next++) {
    const target = lengths[next]!;
    if (target > limit) return best;
    for (; len < target; len++) h = step(h, path.charCodeAt(len));
    const bucket = b.byHash.get(step(h, len));
    if (bucket === undefined) continue;
    for (let i = 0; i < bucket.length; i++) {
      const slot = bucket[i]!;
      if (slot.prefix.length === len && path.startsWith(slot.prefix)) best = firstBelow(slot.entries, ctx, best);
    }
  }
  return best;
}

function passes<R>(entry: IndexedEntry<R>, ctx: LookupContext): boolean {
  const c = entry.conditions;
  if (c.length === 0) return true;
  const view = viewOf(ctx);
  for (let i = 0; i < c.length; i++) if (!c[i]!(view)) return false;
  return true;
}

/** The first passing entry of a sorted list that comes before `best`, else `best`. */
function firstBelow<R>(list: readonly IndexedEntry<R>[] | undefined, ctx: LookupContext, best: IndexedEntry<R> | undefined): IndexedEntry<R> | undefined {
  if (list === undefined) return best;
  const bound = best === undefined ? Infinity : best.ordinal;
  for (let i = 0; i < list.length; i++) {
    const entry = list[i]!;
    if (entry.ordinal >= bound) return best;
    if (passes(entry, ctx)) return entry;
  }
  return best;
}
