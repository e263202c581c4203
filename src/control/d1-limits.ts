/**
 * D1 binds at most 100 parameters per query (Cloudflare D1 limits, "maximum number of bound
 * parameters per query"); an `IN (...)` over a list a client sizes (the namespaces one apply
 * touches) must be split, or a large but valid request fails with "too many SQL variables".
 */
export const D1_MAX_BOUND_PARAMETERS = 100;

/**
 * `items` in slices short enough for one query's `IN (...)` beside `reserved` other bound
 * parameters of the same query.
 * @example inListChunks(namespaces, 1).map((slice) => db.select()...where(and(eq(kind, k), inArray(ns, slice))))
 */
export function inListChunks<T>(items: readonly T[], reserved = 0): T[][] {
  return boundChunks(items, 1, reserved, "inListChunks");
}

/**
 * `items` in slices whose bound parameters (`perItem` each, e.g. 3 for a (kind, namespace, name)
 * key matched column by column) fit one query beside `reserved` others.
 */
export function boundChunks<T>(items: readonly T[], perItem: number, reserved = 0, caller = "boundChunks"): T[][] {
  const size = Math.floor((D1_MAX_BOUND_PARAMETERS - reserved) / perItem);
  if (size < 1) throw new TypeError(`${caller}: ${reserved} reserved parameters leave no room for the list`);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
