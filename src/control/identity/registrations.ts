import { and, eq, inArray } from "drizzle-orm";
import { workloadRegistrations } from "../../../schema/index.ts";
import type { Database } from "../db.ts";

export type RegistrationRow = typeof workloadRegistrations.$inferSelect;

/** A registration as the API returns it (`node` is the node's SPIFFE ID). */
export function registrationView(r: RegistrationRow) {
  return { id: r.id, spiffeId: r.spiffeId, node: r.nodeSpiffeId, source: r.source, sourceRef: r.sourceRef, createdAt: new Date(r.createdAt).toISOString() };
}

/** All registrations, or those of one node. */
export async function listRegistrations(db: Database, node?: string): Promise<RegistrationRow[]> {
  const q = db.select().from(workloadRegistrations);
  return node === undefined
    ? q.orderBy(workloadRegistrations.nodeSpiffeId, workloadRegistrations.spiffeId)
    : q.where(eq(workloadRegistrations.nodeSpiffeId, node)).orderBy(workloadRegistrations.spiffeId);
}

/** The registration of `spiffeId` to `node`, if any. */
export async function findRegistration(db: Database, spiffeId: string, node: string): Promise<RegistrationRow | undefined> {
  const [row] = await db
    .select()
    .from(workloadRegistrations)
    .where(and(eq(workloadRegistrations.spiffeId, spiffeId), eq(workloadRegistrations.nodeSpiffeId, node)));
  return row;
}

/** The registration with id `id`, if any. */
export async function findRegistrationById(db: Database, id: string): Promise<RegistrationRow | undefined> {
  const [row] = await db.select().from(workloadRegistrations).where(eq(workloadRegistrations.id, id));
  return row;
}

/** The subset of `spiffeIds` registered to `node`. */
export async function registeredTo(db: Database, node: string, spiffeIds: readonly string[]): Promise<Set<string>> {
  if (spiffeIds.length === 0) return new Set();
  const rows = await db
    .select({ spiffeId: workloadRegistrations.spiffeId })
    .from(workloadRegistrations)
    .where(and(eq(workloadRegistrations.nodeSpiffeId, node), inArray(workloadRegistrations.spiffeId, [...new Set(spiffeIds)])));
  return new Set(rows.map((r) => r.spiffeId));
}

/** Insert statement (batch it with its audit event). */
export function insertRegistration(db: Database, row: RegistrationRow) {
  return db.insert(workloadRegistrations).values(row);
}

/** Delete statement (batch it with its audit event). */
export function deleteRegistration(db: Database, id: string) {
  return db.delete(workloadRegistrations).where(eq(workloadRegistrations.id, id));
}
