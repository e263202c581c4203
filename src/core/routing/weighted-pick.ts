/**
 * Weighted destination choice (Envoy weighted_clusters): destination i gets
 * weight_i / sum(weights). A single destination without a weight gets 100.
 * Zero-weight destinations are never picked unless every weight is zero, in
 * which case the first is used.
 */
export function pickWeighted<T extends { weight?: number }>(items: readonly T[], rng: () => number): T | undefined {
  if (items.length === 0) return undefined;
  if (items.length === 1) return items[0];
  let total = 0;
  for (const it of items) total += Math.max(0, it.weight ?? 0);
  if (total <= 0) return items[0];
  let r = rng() * total;
  for (const it of items) {
    const w = Math.max(0, it.weight ?? 0);
    if (w === 0) continue;
    if (r < w) return it;
    r -= w;
  }
  // Floating point leftovers: the last weighted item.
  for (let i = items.length - 1; i >= 0; i--) if ((items[i]!.weight ?? 0) > 0) return items[i];
  return items[0];
}
