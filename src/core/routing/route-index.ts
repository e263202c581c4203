/**
 * First-match route lookup without testing every route. Match entries are
 * numbered in table order; exact paths go into hash maps, prefixes into
 * maps bucketed by prefix length, and only entries the index cannot decide
 * (regex uri, no uri) are scanned. The winner is the smallest entry number
 * among the candidates that pass, so the first matching entry in config
 * order still wins.
 */
import type { CompiledMatch, ViewPredicate } from "./request-match.ts";
import type { RequestView } from "./request-view.ts";

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

/** FNV-1a step (32-bit). */
function step(h: number, c: number): number {
  return Math.imul(h ^ c, 0x01000193) >>> 0;
}

const FNV_OFFSET = 0x811c9dc5;

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

  get size(): number {
    return this.next;
  }

  /** Adds an entry after every entry added so far. */
  add(match: CompiledMatch, value: R): void {
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
   * The first entry (in add order) whose uri and conditions match: the
   * smallest ordinal over each candidate list's first passing entry. A list
   * stops being scanned at the best ordinal found so far.
   */
  match(view: RequestView): IndexedEntry<R> | undefined {
    let best = firstBelow(this.exact.get(view.path), view, undefined);
    best = bestPrefix(this.prefix, view.fullPath, view, best);
    if (this.hasCi) {
      best = firstBelow(this.exactCi.get(view.lowerPathOnly()), view, best);
      best = bestPrefix(this.prefixCi, view.lowerFullPath(), view, best);
    }
    if (this.scan.length > 0) best = firstBelow(this.scan, view, best);
    return best;
  }
}

function push<R>(map: Map<string, IndexedEntry<R>[]>, key: string, entry: IndexedEntry<R>): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [entry]);
  else list.push(entry);
}

function bestPrefix<R>(b: PrefixBuckets<R>, path: string, view: RequestView, best: IndexedEntry<R> | undefined): IndexedEntry<R> | undefined {
  if (b.max < 0) return best;
  const lengths = b.lengths;
  let next = 0;
  let h = FNV_OFFSET;
  const limit = Math.min(b.max, path.length);
  for (let len = 0; ; len++) {
    if (len === lengths[next]) {
      next++;
      const bucket = b.byHash.get(step(h, len));
      if (bucket !== undefined) {
        for (let i = 0; i < bucket.length; i++) {
          const slot = bucket[i]!;
          if (slot.prefix.length === len && path.startsWith(slot.prefix)) best = firstBelow(slot.entries, view, best);
        }
      }
    }
    if (len >= limit || next >= lengths.length) return best;
    h = step(h, path.charCodeAt(len));
  }
}

function passes<R>(entry: IndexedEntry<R>, view: RequestView): boolean {
  const c = entry.conditions;
  for (let i = 0; i < c.length; i++) if (!c[i]!(view)) return false;
  return true;
}

/** The first passing entry of a sorted list that comes before `best`, else `best`. */
function firstBelow<R>(list: readonly IndexedEntry<R>[] | undefined, view: RequestView, best: IndexedEntry<R> | undefined): IndexedEntry<R> | undefined {
  if (list === undefined) return best;
  const bound = best === undefined ? Infinity : best.ordinal;
  for (let i = 0; i < list.length; i++) {
    const entry = list[i]!;
    if (entry.ordinal >= bound) return best;
    if (passes(entry, view)) return entry;
  }
  return best;
}
