import type { Database } from "../db.ts";
import { validateResource } from "../../core/config/validate.ts";
import { ConfigValidationError } from "../../core/config/errors.ts";
import type { FieldError } from "../../core/config/field-error.ts";
import { draftOf, keyString, sameContent, type ResourceDraft, type StoredResource } from "./resource-record.ts";
import { getResources } from "./resource-queries.ts";
import { diffFields, type FieldChange } from "./field-diff.ts";
import { StaleResourceVersionError } from "./errors.ts";
import { requestedResourceVersion } from "./resource-version.ts";
import type { ResourceChange } from "./resource-writer.ts";

export type ApplyAction = "created" | "configured" | "unchanged";

/** The outcome for one applied document. */
export interface ApplyItem {
  index: number;
  draft: ResourceDraft;
  current: StoredResource | undefined;
  action: ApplyAction;
  diff: FieldChange[];
}

/**
 * Validates every document (all errors, with `documents[i].` paths; nothing is
 * planned if any is invalid) and refuses the same resource twice.
 */
export function validateDocuments(docs: readonly unknown[], defaultNamespace: string): { draft: ResourceDraft; requestedVersion: number | undefined }[] {
  const errors: FieldError[] = [];
  const out: { draft: ResourceDraft; requestedVersion: number | undefined }[] = [];
  const seen = new Map<string, number>();
  docs.forEach((doc, i) => {
    const result = validateResource(doc, { defaultNamespace });
    if (!result.ok) {
      for (const e of result.errors) errors.push({ path: e.path === "" ? `documents[${i}]` : `documents[${i}].${e.path}`, message: e.message });
      return;
    }
    let requestedVersion: number | undefined;
    try {
      requestedVersion = requestedResourceVersion(doc);
    } catch {
      errors.push({ path: `documents[${i}].metadata.resourceVersion`, message: "must be a decimal string as returned by the server" });
      return;
    }
    const draft = draftOf(result.resource);
    const key = keyString(draft);
    const first = seen.get(key);
    if (first !== undefined) {
      errors.push({ path: `documents[${i}].metadata.name`, message: `${key} is also documents[${first}]` });
      return;
    }
    seen.set(key, i);
    out.push({ draft, requestedVersion });
  });
  if (errors.length > 0) throw new ConfigValidationError(errors);
  return out;
}

function userView(r: ResourceDraft): Record<string, unknown> {
  return { metadata: { labels: r.labels, annotations: r.annotations }, spec: r.spec };
}

/**
 * Compares each document with the stored state. A document carrying
 * `metadata.resourceVersion` that isn't current is a conflict.
 */
export async function planApply(db: Database, docs: readonly { draft: ResourceDraft; requestedVersion: number | undefined }[]): Promise<ApplyItem[]> {
  // Only the rows named (not every resource of their kinds and namespaces).
  const stored = await getResources(db, docs.map((d) => d.draft));
  return docs.map(({ draft, requestedVersion }, index): ApplyItem => {
    const current = stored.get(keyString(draft));
    if (requestedVersion !== undefined && requestedVersion !== current?.resourceVersion) {
      throw new StaleResourceVersionError(
        `documents[${index}].metadata.resourceVersion: ${requestedVersion} is not the current version of ${keyString(draft)} (${current === undefined ? "it does not exist" : current.resourceVersion})`,
      );
    }
    if (current === undefined) return { index, draft, current, action: "created", diff: diffFields({}, userView(draft)) };
    if (sameContent(current, draft)) return { index, draft, current, action: "unchanged", diff: [] };
    return { index, draft, current, action: "configured", diff: diffFields(userView(current), userView(draft)) };
  });
}

/** The writes an apply plan needs. */
export function changesOf(plan: readonly ApplyItem[]): ResourceChange[] {
  return plan.flatMap((p): ResourceChange[] => {
    if (p.action === "created") return [{ op: "create", draft: p.draft }];
    if (p.action === "configured" && p.current !== undefined) return [{ op: "update", before: p.current, draft: p.draft }];
    return [];
  });
}
