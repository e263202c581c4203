/**
 * First-match route lookup without testing every route. Match entries are
 * numbered in table order; exact paths go into hash maps, prefixes into radix
 * trees (one walk along the path finds every prefix it starts with), and only
 * entries the index cannot decide (regex uri, no uri) are scanned. The winner
 * is the smallest entry number among the candidates that pass, so the first
 * matching entry in config order still wins.
 */
import type { CompiledMatch, ViewPredicate } from "./request-match.ts";
import { RequestView } from "./request-view.ts";
import { nextPrefixNode, PrefixTrie } from "./prefix-trie.ts";
import type { RequestFacts } from "./types.ts";

export interface IndexedEntry<R> {
  /** Position of the entry in first-match order. */
  readonly ordinal: number;
  readonly value: R;
  readonly conditions: readonly ViewPredicate[];
}

export class RouteIndex<R> {
  private readonly exact = new Map<string, IndexedEntry<R>[]>();
  private readonly exactCi = new Map<string, IndexedEntry<R>[]>();
  private readonly prefix = new PrefixTrie<IndexedEntry<R>>();
  private readonly prefixCi = new PrefixTrie<IndexedEntry<R>>();
  private readonly scan: IndexedEntry<R>[] = [];
  private next = 0;
  private hasCi = false;
  /** False after `add` until the next lookup rebuilds `staticMap`. */
  private ready = false;
  /**
   * Every case-sensitive exact path: its entry when the path alone decides
   * the answer (see `buildStatic`), else `null` (the full match is needed).
   * A path not in it has no case-sensitive exact entry. Like Hono's static
   * map, but only where Istio's first-match order allows it. Keys never
   * contain `?`, so the raw path (query included) can be looked up as is.
   */
  private staticMap = new Map<string, IndexedEntry<R> | null>();
  private readonly ctx: LookupContext = { facts: undefined, view: undefined };

  get size(): number {
    return this.next;
  }

  /** Adds an entry after every entry added so far. */
  add(match: CompiledMatch, value: R): void {
    this.ready = false;
    const entry: IndexedEntry<R> = { ordinal: this.next++, value, conditions: match.conditions };
    const key = match.uriKey;
    if (key.kind === "exact") {
      push(key.ignoreCase ? this.exactCi : this.exact, key.value, entry);
      this.hasCi ||= key.ignoreCase;
    } else if (key.kind === "prefix") {
      (key.ignoreCase ? this.prefixCi : this.prefix).add(key.value, entry, entry.ordinal);
      this.hasCi ||= key.ignoreCase;
    } else {
      this.scan.push(entry);
    }
  }

  private prepare(): void {
    this.staticMap = this.buildStatic();
    this.ready = true;
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
      // A `?` key never equals a path without its query; leaving it out lets callers look up the raw path.
      if (path === "" || path.includes("?")) continue;
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
   * The first matching entry for a request: one Map lookup of the raw path
   * when an unconditional exact entry decides it (no allocation), else the
   * full indexed match. `view` is reused when given, else built only if an
   * entry has conditions beyond the uri.
   */
  lookup(facts: RequestFacts, view?: RequestView): IndexedEntry<R> | undefined {
    const fullPath = facts.path === "" ? "/" : facts.path;
    if (!this.ready) this.prepare();
    const quick = this.staticMap.get(fullPath);
    if (quick !== undefined && quick !== null) return quick;
    const q = fullPath.indexOf("?");
    return this.matchPaths(facts, q < 0 ? fullPath : fullPath.slice(0, q), fullPath, view, q < 0 && quick === undefined);
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
   * beyond the uri. `noExact`: the caller knows (from `staticMap`) that no
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
    ctx.facts = undefined;
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
function earlierPrefix<R>(trie: PrefixTrie<IndexedEntry<R>>, path: string, ordinal: number): boolean {
  let node = trie.root;
  let pos = 0;
  for (;;) {
    if (node.minKey >= ordinal) return false;
    if (node.entries !== undefined && node.entries[0]!.ordinal < ordinal) return true;
    const next = nextPrefixNode(node, path, pos);
    if (next === undefined) return false;
    pos += next.label.length;
    node = next;
  }
}

/** The best candidate over every prefix `path` starts with, shortest first; a subtree that cannot beat `best` is not entered. */
function bestPrefix<R>(trie: PrefixTrie<IndexedEntry<R>>, path: string, ctx: LookupContext, best: IndexedEntry<R> | undefined): IndexedEntry<R> | undefined {
  let node = trie.root;
  let pos = 0;
  for (;;) {
    if (best !== undefined && node.minKey >= best.ordinal) return best;
    const entries = node.entries;
    if (entries !== undefined) {
      best = firstBelow(entries, ctx, best);
      if (node.chars.length === 0) return best;
    }
    const next = nextPrefixNode(node, path, pos);
    if (next === undefined) return best;
    pos += next.label.length;
    node = next;
  }
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
