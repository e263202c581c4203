import { drizzle, type DrizzleD1Database } from "drizzle-orm/d1";
import * as schema from "../../schema/index.ts";
import type { ControlEnv } from "./env.ts";

/** The control plane's D1 database, typed with every table in `schema/`. */
export type Database = DrizzleD1Database<typeof schema>;

/** Drizzle over the worker's D1 binding. Cheap: call it per request. */
export function database(env: ControlEnv): Database {
  return drizzle(env.DB, { schema });
}

/** True if `err` (or its cause, as drizzle wraps driver errors) is a SQLite UNIQUE / PRIMARY KEY violation. */
export function isUniqueViolation(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    if (/UNIQUE constraint failed|SQLITE_CONSTRAINT_(PRIMARYKEY|UNIQUE)/i.test(e.message)) return true;
  }
  return false;
}
