import { and, eq } from "drizzle-orm";
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

/** One WorkloadEntry change as registration sync sees it: the entry before and after the write. */
export interface WorkloadEntryChange {
  ref: string;
  namespace: string;
  before: StoredResource | undefined;
  after: StoredResource | undefined;
}

type Registration = NonNullable<ReturnType<typeof registrationOf>>;

const samePair = (a: Registration | undefined, b: Registration | undefined) =>
  a === b || (a !== undefined && b !== undefined && a.spiffeId === b.spiffeId && a.nodeSpiffeId === b.nodeSpiffeId);

/**
 * Statements that keep `workload_registrations` in line with the WorkloadEntries, for the batch
 * of a write. Only entries whose identity or placement changed produce statements: the old
 * pair's row of that entry is deleted (and re-created for another entry of the namespace that
 * still implies it, as two entries with one identity on one node share a row), the new pair is
 * inserted unless it exists. `namespaceState` (every WorkloadEntry of a namespace as it will be
 * after the write) is read only when a pair goes away.
 */
export async function registrationStatements(
  db: Database,
  changes: readonly WorkloadEntryChange[],
  namespaceState: (namespaces: readonly string[]) => Promise<readonly StoredResource[]>,
  trustDomain: string,
  at: number,
): Promise<BatchItem<"sqlite">[]> {
  const out: BatchItem<"sqlite">[] = [];
  const removed: { ref: string; namespace: string; pair: Registration }[] = [];
  const added: Registration[] = [];
  for (const ch of changes) {
    const before = ch.before === undefined ? undefined : registrationOf(ch.before, trustDomain);
    const after = ch.after === undefined ? undefined : registrationOf(ch.after, trustDomain);
    if (samePair(before, after)) continue;
    if (before !== undefined) {
      removed.push({ ref: ch.ref, namespace: ch.namespace, pair: before });
      out.push(
        db
          .delete(workloadRegistrations)
          .where(
            and(
              eq(workloadRegistrations.source, REGISTRATION_SOURCE),
              eq(workloadRegistrations.sourceRef, ch.ref),
              eq(workloadRegistrations.spiffeId, before.spiffeId),
              eq(workloadRegistrations.nodeSpiffeId, before.nodeSpiffeId),
            ),
          ),
      );
    }
    if (after !== undefined) added.push(after);
  }
  if (removed.length > 0) {
    const state = await namespaceState([...new Set(removed.map((r) => r.namespace))]);
    const changedRefs = new Set(removed.map((r) => r.ref));
    for (const r of removed) {
      const heir = state.find((we) => !changedRefs.has(`${we.namespace}/${we.name}`) && samePair(registrationOf(we, trustDomain), r.pair));
      if (heir !== undefined) added.push(registrationOf(heir, trustDomain)!);
    }
  }
  for (const r of added) {
    out.push(
      db
        .insert(workloadRegistrations)
        .values({ id: crypto.randomUUID(), spiffeId: r.spiffeId, nodeSpiffeId: r.nodeSpiffeId, source: REGISTRATION_SOURCE, sourceRef: r.sourceRef, createdAt: at })
        .onConflictDoNothing(),
    );
  }
  return out;
}
