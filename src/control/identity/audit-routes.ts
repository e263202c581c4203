import { Hono } from "hono";
import { and, desc, eq, type SQL } from "drizzle-orm";
import { auditEvents } from "../../../schema/index.ts";
import type { ControlApp } from "../types.ts";
import { requireAdmin } from "../auth.ts";
import { database } from "../db.ts";
import { positiveIntegerParam } from "./fields.ts";

/** Admin: read the audit log, newest first; `?action=`, `?actor=`, `?outcome=`, `?limit=` (default 100, max 1000). */
export const auditRoutes = new Hono<ControlApp>();

auditRoutes.get("/v1/audit", async (c) => {
  requireAdmin(c);
  const rawLimit = c.req.query("limit");
  const limit = rawLimit === undefined ? 100 : Math.min(positiveIntegerParam(rawLimit, "limit"), 1000);
  const filters: SQL[] = [];
  for (const [param, column] of [["action", auditEvents.action], ["actor", auditEvents.actor], ["outcome", auditEvents.outcome], ["target", auditEvents.target]] as const) {
    const value = c.req.query(param);
    if (value !== undefined) filters.push(eq(column, value));
  }
  const rows = await database(c.env)
    .select()
    .from(auditEvents)
    .where(filters.length === 0 ? undefined : and(...filters))
    .orderBy(desc(auditEvents.id))
    .limit(limit);
  return c.json({
    events: rows.map((r) => ({
      id: r.id,
      at: new Date(r.at).toISOString(),
      actor: r.actor,
      action: r.action,
      target: r.target,
      outcome: r.outcome,
      detail: r.detail === null ? null : (JSON.parse(r.detail) as unknown),
    })),
  });
});
