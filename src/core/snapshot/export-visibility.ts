/**
 * Resolves an `exportTo` list (istio-semantics.md §1, §2.19): absent or empty
 * means `*`; `.` is the resource's own namespace; `~` exports nowhere.
 * The result holds namespace names or `*`.
 */
export function resolveExportTo(exportTo: readonly string[] | undefined, ownNamespace: string): string[] {
  if (exportTo === undefined || exportTo.length === 0) return ["*"];
  const out = new Set<string>();
  for (const e of exportTo) {
    if (e === "~") continue;
    out.add(e === "." ? ownNamespace : e);
  }
  return [...out].sort();
}

/** True when something exported to `exportTo` (already resolved) is visible from `namespace`. */
export function visibleFrom(exportTo: readonly string[], namespace: string): boolean {
  return exportTo.includes("*") || exportTo.includes(namespace);
}
