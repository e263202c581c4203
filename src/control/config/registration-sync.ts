import { and, eq, inArray } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Database } from "../db.ts";
import { workloadRegistrations } from "../../../schema/identity.ts";
import type { WorkloadEntrySpec } from "../../core/config/kinds/workload-entry.ts";
import { nodeSpiffeId, placementOf, workloadSpiffeId } from "../../core/snapshot/workload-placement.ts";
import type { WorkloadEntryResource } from "../../core/config/resource.ts";
import type { StoredResource } from "./resource-record.ts";

export const REGISTRATION_SOURCE = "workloadentry";

/** The registration a WorkloadEntry implies: its identity, on the node its labels place it on. */
export function registrationOf(we: StoredResource, trustDomain: string): { spiffeId: string; nodeSpiffeId: string; sourceRef: string } | undefined {
  const spec = we.spec as WorkloadEntrySpec;
  const placement = placementOf({ metadata: { name: we.name, namespace: we.namespace, labels: we.labels }, spec } as WorkloadEntryResource);
  if (placement === undefined) return undefined;
  return {
    spiffeId: workloadSpiffeId(trustDomain, we.namespace, spec.serviceAccount),
    nodeSpiffeId: nodeSpiffeId(trustDomain, placement.cluster, placement.node),
    sourceRef: `${we.namespace}/${we.name}`,
  };
}

// D1 allows at most 100 bound parameters per statement; a row here has 6.
const ROWS_PER_INSERT = 16;
const REFS_PER_DELETE = 90;

/**
 * Statements that bring `workload_registrations` in line with the WorkloadEntries
 * after a write, for the batch of that write. `touchedRefs` are the
 * `<ns>/<name>` of changed WorkloadEntries; `namespaceState` is every
 * WorkloadEntry of the affected namespaces as it will be after the write.
 * Rows of touched entries are deleted, then every wanted pair is inserted
 * unless it already exists (two entries with one identity on one node share a row).
 */
export function registrationStatements(
  db: Database,
  touchedRefs: readonly string[],
  namespaceState: readonly StoredResource[],
  trustDomain: string,
  at: number,
): BatchItem<"sqlite">[] {
  if (touchedRefs.length === 0) return [];
  const out: BatchItem<"sqlite">[] = [];
  for (let i = 0; i < touchedRefs.length; i += REFS_PER_DELETE) {
    const refs = touchedRefs.slice(i, i + REFS_PER_DELETE);
    out.push(db.delete(workloadRegistrations).where(and(eq(workloadRegistrations.source, REGISTRATION_SOURCE), inArray(workloadRegistrations.sourceRef, refs))));
  }
  const rows = namespaceState
    .flatMap((we) => registrationOf(we, trustDomain) ?? [])
    .map((r) => ({ id: crypto.randomUUID(), spiffeId: r.spiffeId, nodeSpiffeId: r.nodeSpiffeId, source: REGISTRATION_SOURCE, sourceRef: r.sourceRef, createdAt: at }));
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
    out.push(db.insert(workloadRegistrations).values(rows.slice(i, i + ROWS_PER_INSERT)).onConflictDoNothing());
  }
  return out;
}
