import { Hono } from "hono";
import type { ControlApp } from "../types.ts";
import { requireAccess } from "../auth.ts";
import { ForbiddenError, UnauthenticatedError, ValidationError } from "../../core/errors.ts";
import { DEFAULT_NAMESPACE } from "../../core/config/validate.ts";
import { readConfigDocuments } from "./request-body.ts";
import { changesOf, planApply, validateDocuments } from "./apply-plan.ts";
import { db, landChanges, publishWaitMs, replanOnConflict } from "./land-changes.ts";

/** `POST /v1/apply`: multi-document, all-or-nothing, one revision; `?dryRun=true` only reports. */
export const applyRoutes = new Hono<ControlApp>();

applyRoutes.post("/v1/apply", async (c) => {
  const principal = c.get("principal");
  if (principal === undefined) throw new UnauthenticatedError("authentication required: send Authorization: Bearer <credential>");
  if (principal.type === "node") throw new ForbiddenError("node credentials cannot apply config");
  const dryRunParam = c.req.query("dryRun");
  if (dryRunParam !== undefined && !["true", "false", "All", ""].includes(dryRunParam)) {
    throw new ValidationError(`dryRun: expected true or false, got ${dryRunParam}`, { field: "dryRun" });
  }
  // Checked before anything is read: a write that turns out to change nothing still reports a bad value.
  publishWaitMs(c);
  const dryRun = dryRunParam === "true" || dryRunParam === "All" || dryRunParam === "";
  const defaultNamespace = c.req.query("namespace") ?? DEFAULT_NAMESPACE;
  const docs = await readConfigDocuments(c);
  if (docs.length === 0) throw new ValidationError("body: no resources in the documents", { field: "body" });
  const validated = validateDocuments(docs, defaultNamespace);
  for (const ns of new Set(validated.map((d) => d.draft.namespace))) requireAccess(c, ns, dryRun ? "read" : "write");
  const database = db(c);
  const unconditional = validated.every((d) => d.requestedVersion === undefined);
  return replanOnConflict(unconditional, async () => {
    const plan = await planApply(database, validated);
    const changes = changesOf(plan);
    const describe = (p: (typeof plan)[number], resourceVersion: number | undefined) => ({
      kind: p.draft.kind,
      apiVersion: p.draft.apiVersion,
      namespace: p.draft.namespace,
      name: p.draft.name,
      action: p.action,
      resourceVersion: resourceVersion === undefined ? null : String(resourceVersion),
      ...(dryRun ? { diff: p.diff } : {}),
    });
    if (dryRun || changes.length === 0) {
      return c.json({ revision: null, dryRun, results: plan.map((p) => describe(p, p.current?.resourceVersion)) });
    }
    const touched = [...new Set(changes.map((ch) => (ch.op === "delete" ? ch.before.namespace : ch.draft.namespace)))].sort();
    const { revision, publish } = await landChanges(c, database, changes, {
      operation: "apply",
      audit: { action: "config.apply", target: touched.join(","), detail: { documents: plan.length } },
    });
    return c.json({
      revision,
      dryRun,
      results: plan.map((p) => describe(p, p.action === "unchanged" ? p.current?.resourceVersion : revision)),
      ...(publish === undefined ? {} : { publish }),
    });
  });
});
