import { drizzle, type DrizzleD1Database } from "drizzle-orm/d1";
import * as schema from "../../schema/index.ts";
import type { ControlEnv } from "./env.ts";

/** The control plane's D1 database, typed with every table in `schema/`. */
export type Database = DrizzleD1Database<typeof schema>;

/** Drizzle over the worker's D1 binding. Cheap: call it per request. */
export function database(env: ControlEnv): Database {
  return drizzle(env.DB, { schema });
}
