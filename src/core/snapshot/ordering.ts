/** Deterministic orderings, so equal configs compile to byte-identical snapshots. */

/** Plain code-unit string comparison (locale-independent). */
export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Istio's precedence between resources of one kind: oldest first
 * (`creationTimestamp`), then name, then namespace (pilot `model`
 * `sortConfigByCreationTime`; resources applied together share a timestamp,
 * so e.g. two VirtualServices bound to one gateway host merge by name).
 */
export function byAge(
  a: { metadata: { namespace: string; name: string; creationTimestamp?: string } },
  b: { metadata: { namespace: string; name: string; creationTimestamp?: string } },
): number {
  return (
    compare(a.metadata.creationTimestamp ?? "", b.metadata.creationTimestamp ?? "") ||
    compare(a.metadata.name, b.metadata.name) ||
    compare(a.metadata.namespace, b.metadata.namespace)
  );
}
