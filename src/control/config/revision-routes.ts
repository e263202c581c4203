import { Hono } from "hono";
import type { ControlApp } from "../types.ts";
import { requireAccess } from "../auth.ts";
import { readJsonBody } from "../body.ts";
import { NotFoundError, ValidationError } from "../../core/errors.ts";
import { getRevision, listRevisions, revisionExists } from "./revision-log.ts";
import { planRollback } from "./rollback-plan.ts";
import { db, landChanges, publishWaitMs } from "./land-changes.ts";

/** `GET /v1/revisions`, `GET /v1/revisions/:id`, `POST /v1/rollback`. */
export const revisionRoutes = new Hono<ControlApp>();

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 500;

function positiveInt(raw: unknown, field: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = typeof raw === "number" ? raw : typeof raw === "string" && /^[0-9]+$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > max) throw new ValidationError(`${field}: expected an integer from 1 to ${max}`, { field });
  return n;
}

revisionRoutes.get("/v1/revisions", async (c) => {
  requireAccess(c, "*", "read");
  const limitRaw = c.req.query("limit");
  const beforeRaw = c.req.query("before");
  const limit = limitRaw === undefined ? DEFAULT_LIMIT : positiveInt(limitRaw, "limit", MAX_LIMIT);
  const before = beforeRaw === undefined ? undefined : positiveInt(beforeRaw, "before");
  const items = await listRevisions(db(c), limit, before);
  const last = items[items.length - 1];
  return c.json({ revisions: items, next: items.length === limit && last !== undefined ? String(last.id) : null });
});

revisionRoutes.get("/v1/revisions/:id", async (c) => {
  requireAccess(c, "*", "read");
  const id = positiveInt(c.req.param("id"), "id");
  const rev = await getRevision(db(c), id);
  if (rev === undefined) throw new NotFoundError(`revision ${id} does not exist`, { field: "id" });
  const { items, ...head } = rev;
  return c.json({ revision: head, changes: items });
});

revisionRoutes.post("/v1/rollback", async (c) => {
  requireAccess(c, "*", "read");
  // Checked before anything is read: a write that turns out to change nothing still reports a bad value.
  publishWaitMs(c);
  const body = await readJsonBody(c);
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw new ValidationError('body: expected a JSON object like {"revision": 12}', { field: "body" });
  const raw = (body as Record<string, unknown>).revision;
  if (raw === undefined) throw new ValidationError("revision: required", { field: "revision" });
  // A JSON number, as the revision list returns it; "12" is refused rather than guessed at.
  if (typeof raw !== "number") throw new ValidationError(`revision: expected an integer, got ${typeof raw}`, { field: "revision" });
  const target = positiveInt(raw, "revision");
  const database = db(c);
  if (!(await revisionExists(database, target))) throw new NotFoundError(`revision: ${target} does not exist`, { field: "revision" });
  const changes = await planRollback(database, target);
  for (const ns of new Set(changes.map((ch) => (ch.op === "create" || ch.op === "update" ? ch.draft.namespace : ch.before.namespace)))) {
    requireAccess(c, ns, "write");
  }
  const results = changes.map((ch) => {
    const k = ch.op === "delete" ? ch.before : ch.draft;
    return { kind: k.kind, namespace: k.namespace, name: k.name, action: ch.op === "create" ? "created" : ch.op === "update" ? "configured" : "deleted" };
  });
  if (changes.length === 0) return c.json({ revision: null, rolledBackTo: target, results });
  const { revision, publish } = await landChanges(c, database, changes, {
    operation: "rollback",
    message: `rollback to revision ${target}`,
    audit: { action: "config.rollback", target: `revision/${target}` },
  });
  return c.json({ revision, rolledBackTo: target, results, ...(publish === undefined ? {} : { publish }) });
});
