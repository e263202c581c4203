import { Hono } from "hono";
import { desc, eq } from "drizzle-orm";
import { auditRefusals } from "../../schema/index.ts";
import type { ControlApp } from "./types.ts";
import { requireAdmin } from "./auth.ts";
import { database } from "./db.ts";
import { positiveIntegerParam } from "./identity/fields.ts";

/**
 * Admin: the counters of refused anonymous requests, newest minute first;
 * `?source=` (client address), `?limit=` (default 100, max 1000).
 */
export const auditRefusalRoutes = new Hono<ControlApp>();

auditRefusalRoutes.get("/v1/audit/refusals", async (c) => {
  requireAdmin(c);
  const rawLimit = c.req.query("limit");
  const limit = rawLimit === undefined ? 100 : Math.min(positiveIntegerParam(rawLimit, "limit"), 1000);
  const source = c.req.query("source");
  const rows = await database(c.env)
    .select()
    .from(auditRefusals)
    .where(source === undefined ? undefined : eq(auditRefusals.source, source))
    .orderBy(desc(auditRefusals.minute), desc(auditRefusals.count))
    .limit(limit);
  return c.json({
    refusals: rows.map((r) => ({
      minute: new Date(r.minute).toISOString(),
      source: r.source,
      code: r.code,
      count: r.count,
      firstAt: new Date(r.firstAt).toISOString(),
      lastAt: new Date(r.lastAt).toISOString(),
      sample: r.sample,
    })),
  });
});
