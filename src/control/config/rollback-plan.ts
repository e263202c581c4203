import type { Kind, Resource } from "../../core/config/resource.ts";
import type { Database } from "../db.ts";
import { draftOf, keyString, sameContent, type StoredResource } from "./resource-record.ts";
import { loadAllResources } from "./resource-queries.ts";
import { stateAfterRevision } from "./revision-log.ts";
import type { ResourceChange } from "./resource-writer.ts";

/**
 * The changes that make the stored config equal to its state right after
 * revision `n`: resources created since are deleted, deleted ones restored
 * (same uid), changed ones put back. Only resources touched after `n` are looked at.
 */
export async function planRollback(db: Database, n: number): Promise<ResourceChange[]> {
  const [target, current] = await Promise.all([stateAfterRevision(db, n), loadAllResources(db)]);
  const byKey = new Map<string, StoredResource>(current.map((r) => [keyString(r), r]));
  const changes: ResourceChange[] = [];
  for (const t of target) {
    const now = byKey.get(keyString({ kind: t.kind as Kind, namespace: t.namespace, name: t.name }));
    if (t.after === null) {
      if (now !== undefined) changes.push({ op: "delete", before: now });
      continue;
    }
    // The log stores each manifest as the API served it (see manifestOf).
    const logged = t.after as Resource;
    const draft = draftOf(logged);
    if (now === undefined) {
      const createdAt = logged.metadata.creationTimestamp === undefined ? undefined : Date.parse(logged.metadata.creationTimestamp);
      changes.push(
        logged.metadata.uid === undefined || createdAt === undefined || Number.isNaN(createdAt)
          ? { op: "create", draft }
          : { op: "create", draft, restore: { uid: logged.metadata.uid, createdAt } },
      );
    } else if (!sameContent(now, draft) || now.apiVersion !== draft.apiVersion) {
      changes.push({ op: "update", before: now, draft });
    }
  }
  return changes;
}
