import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type Node } from "yaml";

/**
 * The size, in bytes of compact JSON (approximately), that a parsed YAML document becomes once
 * its aliases are expanded — computed on the syntax tree before anything is expanded, so a
 * small body whose aliases multiply it (an anchored list referenced 99 times) is refused before
 * any large allocation. Each node's size is computed once (memoised), so the walk is linear in
 * the size of the tree however often a node is referenced. Stops counting past `limit`.
 */
export function expandedSize(doc: Document, limit: number): number {
  const memo = new Map<unknown, number>();
  const sizeOf = (node: unknown, depth: number): number => {
    if (node === null || node === undefined) return 4; // null
    const known = memo.get(node);
    if (known !== undefined) return known;
    // Alias cycles are refused by the parser's own toJS; count them as over the limit here.
    if (depth > 1000) return limit + 1;
    let size: number;
    if (isAlias(node)) {
      size = sizeOf(node.resolve(doc), depth + 1);
    } else if (isScalar(node)) {
      const v = node.value;
      size = typeof v === "string" ? v.length + 2 : String(v).length;
    } else if (isMap(node) || isSeq(node)) {
      size = 2;
      for (const item of node.items as unknown[]) {
        size += 1 + (isPair(item) ? sizeOf(item.key, depth + 1) + 1 + sizeOf(item.value, depth + 1) : sizeOf(item as Node, depth + 1));
        if (size > limit) break;
      }
    } else {
      size = 4;
    }
    memo.set(node, size);
    return size;
  };
  return sizeOf(doc.contents, 0);
}
