/**
 * Uri prefixes in a radix tree (edges labelled with whole runs of
 * characters). One walk along the path visits every configured prefix the
 * path starts with, shortest first, comparing each character of the path at
 * most once: no hashing, no substring, no allocation. Exact by construction,
 * so no candidate needs a second check.
 */

/** Up to this many children are found by a linear scan of their first characters, more through a table. */
const LINEAR_CHILDREN = 4;
/** A node with many children indexes those with a first character below this in an array, the rest in a Map. */
const TABLE_CHARS = 128;

export class TrieNode<E> {
  /** Characters from the parent to this node (the first one selects the child). */
  label: string;
  /** Entries whose prefix ends exactly here, in insertion order. */
  entries: E[] | undefined = undefined;
  /** First character of each child's label, parallel to `kids`. */
  chars: number[] = [];
  kids: TrieNode<E>[] = [];
  /** Once there are more than `LINEAR_CHILDREN` children: first character (below `TABLE_CHARS`) -> child. */
  table: (TrieNode<E> | undefined)[] | undefined = undefined;
  /** With `table`: children whose first character is `TABLE_CHARS` or above. */
  wide: Map<number, TrieNode<E>> | undefined = undefined;
  /** Smallest key (see `PrefixTrie.add`) of any entry in this subtree: lets a walk stop early. */
  minKey = Infinity;

  constructor(label: string) {
    this.label = label;
  }

  child(c: number): TrieNode<E> | undefined {
    const table = this.table;
    if (table !== undefined) return c < TABLE_CHARS ? table[c] : this.wide!.get(c);
    const chars = this.chars;
    for (let i = 0; i < chars.length; i++) if (chars[i] === c) return this.kids[i];
    return undefined;
  }

  attach(node: TrieNode<E>): void {
    const c = node.label.charCodeAt(0);
    const at = this.chars.indexOf(c);
    if (at >= 0) this.kids[at] = node;
    else {
      this.chars.push(c);
      this.kids.push(node);
    }
    if (this.table === undefined && this.chars.length > LINEAR_CHILDREN) {
      this.table = new Array<TrieNode<E> | undefined>(TABLE_CHARS).fill(undefined);
      this.wide = new Map();
      this.chars.forEach((ch, i) => this.index(ch, this.kids[i]!));
    } else if (this.table !== undefined) {
      this.index(c, node);
    }
  }

  private index(c: number, node: TrieNode<E>): void {
    if (c < TABLE_CHARS) this.table![c] = node;
    else this.wide!.set(c, node);
  }
}

/** Length of the common start of `a` (from `from`) and `b`. */
function common(a: string, from: number, b: string): number {
  let i = 0;
  while (i < b.length && from + i < a.length && a.charCodeAt(from + i) === b.charCodeAt(i)) i++;
  return i;
}

export class PrefixTrie<E> {
  readonly root = new TrieNode<E>("");
  /** Number of entries added. */
  size = 0;

  /**
   * Adds `entry` under `prefix`. `key` orders entries (smaller = earlier);
   * entries must be added in ascending key order.
   */
  add(prefix: string, entry: E, key: number): void {
    this.size++;
    let node = this.root;
    let pos = 0;
    node.minKey = Math.min(node.minKey, key);
    while (pos < prefix.length) {
      const next = node.child(prefix.charCodeAt(pos));
      if (next === undefined) {
        const leaf = new TrieNode<E>(prefix.slice(pos));
        node.attach(leaf);
        node = leaf;
        pos = prefix.length;
      } else {
        const n = common(prefix, pos, next.label);
        if (n < next.label.length) {
          // Split the edge: a new node for the shared run, the old child below it.
          const mid = new TrieNode<E>(next.label.slice(0, n));
          mid.minKey = next.minKey;
          next.label = next.label.slice(n);
          mid.attach(next);
          node.attach(mid);
          node = mid;
        } else {
          node = next;
        }
        pos += n;
      }
      node.minKey = Math.min(node.minKey, key);
    }
    (node.entries ??= []).push(entry);
  }
}

/**
 * From `node` (whose label ends at `pos` in `path`), the next node on the
 * path, or `undefined` when no configured prefix continues along it.
 * `pos` of the returned node is `pos + node.label.length`.
 */
export function nextPrefixNode<E>(node: TrieNode<E>, path: string, pos: number): TrieNode<E> | undefined {
  if (pos >= path.length) return undefined;
  const next = node.child(path.charCodeAt(pos));
  if (next === undefined) return undefined;
  const label = next.label;
  const end = pos + label.length;
  if (end > path.length) return undefined;
  // The first character was matched by `child`.
  for (let i = 1; i < label.length; i++) if (path.charCodeAt(pos + i) !== label.charCodeAt(i)) return undefined;
  return next;
}
