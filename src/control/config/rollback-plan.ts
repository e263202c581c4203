import type { Kind } from "../../core/config/resource.ts";
import type { Database } from "../db.ts";
import { keyString, sameContent, type ResourceDraft, type StoredResource } from "./resource-record.ts";
import { loadAllResources } from "./resource-queries.ts";
import { stateAfterRevision } from "./revision-log.ts";
import type { ResourceChange } from "./resource-writer.ts";

interface LoggedManifest {
  apiVersion: string;
  kind: Kind;
  metadata: { name: string; namespace: string; uid?: string; creationTimestamp?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: unknown;
}

function draftFromLog(m: LoggedManifest): ResourceDraft {
  return {
    kind: m.kind,
    namespace: m.metadata.namespace,
    name: m.metadata.name,
    apiVersion: m.apiVersion,
    labels: m.metadata.labels ?? {},
    annotations: m.metadata.annotations ?? {},
    spec: m.spec,
  };
}

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
    const logged = t.after as LoggedManifest;
    const draft = draftFromLog(logged);
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
