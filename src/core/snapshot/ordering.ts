/** Deterministic orderings, so equal configs compile to byte-identical snapshots. */

/** Plain code-unit string comparison (locale-independent). */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Istio's precedence between resources of one kind: oldest first
 * (`creationTimestamp`), then namespace and name.
 */
export function byAge(
  a: { metadata: { namespace: string; name: string; creationTimestamp?: string } },
  b: { metadata: { namespace: string; name: string; creationTimestamp?: string } },
): number {
  return (
    compare(a.metadata.creationTimestamp ?? "", b.metadata.creationTimestamp ?? "") ||
    compare(a.metadata.namespace, b.metadata.namespace) ||
    compare(a.metadata.name, b.metadata.name)
  );
}
