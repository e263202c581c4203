/**
 * True when every `selector` pair is present in `labels`. An absent or empty
 * selector selects everything (Istio's `matchLabels` semantics).
 */
export function matchesLabels(selector: Readonly<Record<string, string>> | undefined, labels: Readonly<Record<string, string>>): boolean {
  if (selector === undefined) return true;
  for (const [k, v] of Object.entries(selector)) {
    if (labels[k] !== v) return false;
  }
  return true;
}

/** True when the selector has at least one pair. */
export function hasSelector(selector: Readonly<Record<string, string>> | undefined): boolean {
  return selector !== undefined && Object.keys(selector).length > 0;
}
