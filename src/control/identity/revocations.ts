import { eq } from "drizzle-orm";
import { revocations } from "../../../schema/index.ts";
import type { Database } from "../db.ts";

export type RevocationRow = typeof revocations.$inferSelect;

/** A revocation as the API returns it. */
export function revocationView(r: RevocationRow) {
  return { spiffeId: r.spiffeId, reason: r.reason, revokedAt: new Date(r.revokedAt).toISOString(), revokedBy: r.revokedBy };
}

/**
 * Every revocation plus a sequence that grows with each one (rows are never
 * deleted), so a proxy can tell whether its copy is current.
 */
export async function listRevocations(db: Database): Promise<{ revocations: ReturnType<typeof revocationView>[]; sequence: number }> {
  const rows = await db.select().from(revocations).orderBy(revocations.revokedAt, revocations.spiffeId);
  return { revocations: rows.map(revocationView), sequence: rows.length };
}

export async function findRevocation(db: Database, spiffeId: string): Promise<RevocationRow | undefined> {
  const [row] = await db.select().from(revocations).where(eq(revocations.spiffeId, spiffeId));
  return row;
}

/** Insert statement for a revocation (batch it with its audit event). */
export function insertRevocation(db: Database, row: RevocationRow) {
  return db.insert(revocations).values(row);
}
