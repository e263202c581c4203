import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * Refused anonymous requests, aggregated: one counter per client source, error code and minute
 * instead of one audit row per request, so nobody without credentials can grow the audit log
 * (or D1's write bill) at will. Authenticated refusals stay individual rows in `audit_events`.
 */
export const auditRefusals = sqliteTable(
  "audit_refusals",
  {
    /** Start of the minute, ms since the epoch. */
    minute: integer("minute").notNull(),
    /** The client's address (`CF-Connecting-IP`), or `unknown`. */
    source: text("source").notNull(),
    code: text("code").notNull(),
    count: integer("count").notNull(),
    firstAt: integer("first_at").notNull(),
    lastAt: integer("last_at").notNull(),
    /** `METHOD path` of the first refusal of the minute, as a short safe excerpt. */
    sample: text("sample").notNull(),
  },
  (t) => [primaryKey({ columns: [t.minute, t.source, t.code] }), index("audit_refusals_minute").on(t.minute)],
);
