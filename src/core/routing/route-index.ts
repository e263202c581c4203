/**
 * First-match route lookup without testing every route. Match entries are
 * numbered in table order; exact paths go into hash maps, prefixes into
 * maps bucketed by prefix length, and only entries the index cannot decide
 * (regex uri, no uri) are scanned. Candidates from every source are merged
 * by entry number, so the first matching entry in config order still wins.
 */
import type { CompiledMatch, ViewPredicate } from "./request-match.ts";
import type { RequestView } from "./request-view.ts";

export interface IndexedEntry<R> {
  /** Position of the entry in first-match order. */
  readonly ordinal: number;
  readonly value: R;
  readonly conditions: readonly ViewPredicate[];
}

interface PrefixBuckets<R> {
  /** Distinct prefix lengths, ascending. */
  lengths: number[];
  byPrefix: Map<string, IndexedEntry<R>[]>;
}

export class RouteIndex<R> {
  private readonly exact = new Map<string, IndexedEntry<R>[]>();
  private readonly exactCi = new Map<string, IndexedEntry<R>[]>();
  private readonly prefix: PrefixBuckets<R> = { lengths: [], byPrefix: new Map() };
  private readonly prefixCi: PrefixBuckets<R> = { lengths: [], byPrefix: new Map() };
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
      }
      push(b.byPrefix, key.value, entry);
    } else {
      this.scan.push(entry);
    }
  }

  /** The first entry (in add order) whose uri and conditions match. */
  match(view: RequestView): IndexedEntry<R> | undefined {
    const lists: IndexedEntry<R>[][] = [];
    const e = this.exact.get(view.path);
    if (e !== undefined) lists.push(e);
    collectPrefixes(this.prefix, view.fullPath, lists);
    if (this.hasCi) {
      const ec = this.exactCi.get(view.lowerPathOnly());
      if (ec !== undefined) lists.push(ec);
      collectPrefixes(this.prefixCi, view.lowerFullPath(), lists);
    }
    if (this.scan.length > 0) lists.push(this.scan);
    if (lists.length === 1) return firstPassing(lists[0]!, view);
    if (lists.length === 0) return undefined;
    return mergedFirstPassing(lists, view);
  }
}

function push<R>(map: Map<string, IndexedEntry<R>[]>, key: string, entry: IndexedEntry<R>): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [entry]);
  else list.push(entry);
}

function collectPrefixes<R>(b: PrefixBuckets<R>, path: string, out: IndexedEntry<R>[][]): void {
  const lengths = b.lengths;
  for (let i = 0; i < lengths.length; i++) {
    const len = lengths[i]!;
    if (len > path.length) break;
    const hit = b.byPrefix.get(len === path.length ? path : path.slice(0, len));
    if (hit !== undefined) out.push(hit);
  }
}

function passes<R>(entry: IndexedEntry<R>, view: RequestView): boolean {
  const c = entry.conditions;
  for (let i = 0; i < c.length; i++) if (!c[i]!(view)) return false;
  return true;
}

function firstPassing<R>(list: readonly IndexedEntry<R>[], view: RequestView): IndexedEntry<R> | undefined {
  for (let i = 0; i < list.length; i++) if (passes(list[i]!, view)) return list[i];
  return undefined;
}

/** k-way merge by ordinal over sorted candidate lists (k is small: a few prefix lengths). */
function mergedFirstPassing<R>(lists: IndexedEntry<R>[][], view: RequestView): IndexedEntry<R> | undefined {
  const pos = new Array<number>(lists.length).fill(0);
  for (;;) {
    let best = -1;
    let bestOrdinal = Infinity;
    for (let i = 0; i < lists.length; i++) {
      const entry = lists[i]![pos[i]!];
      if (entry !== undefined && entry.ordinal < bestOrdinal) {
        best = i;
        bestOrdinal = entry.ordinal;
      }
    }
    if (best < 0) return undefined;
    const entry = lists[best]![pos[best]!]!;
    pos[best] = pos[best]! + 1;
    if (passes(entry, view)) return entry;
  }
}
