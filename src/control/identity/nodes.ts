import { eq } from "drizzle-orm";
import { attestedNodes, revocations } from "../../../schema/index.ts";
import type { Database } from "../db.ts";

/** Upserts the attested node (a re-attestation refreshes it). */
export function upsertAttestedNode(
  db: Database,
  n: { spiffeId: string; cluster: string; node: string; attestationType: string; serial: string },
  now: number,
) {
  return db
    .insert(attestedNodes)
    .values({ spiffeId: n.spiffeId, cluster: n.cluster, node: n.node, attestationType: n.attestationType, attestedAt: now, lastSeenAt: now, currentSerial: n.serial })
    .onConflictDoUpdate({
      target: attestedNodes.spiffeId,
      set: { attestationType: n.attestationType, attestedAt: now, lastSeenAt: now, currentSerial: n.serial },
    });
}

/** Removes an attested node (an eviction): it must attest again before it may act as a node. */
export function deleteAttestedNode(db: Database, spiffeId: string) {
  return db.delete(attestedNodes).where(eq(attestedNodes.spiffeId, spiffeId));
}

/** Records a renewal: the node's new serial and when it was last seen. */
export function recordRenewal(db: Database, spiffeId: string, serial: string, now: number) {
  return db.update(attestedNodes).set({ lastSeenAt: now, currentSerial: serial }).where(eq(attestedNodes.spiffeId, spiffeId));
}

/** True if the node identity has been revoked. */
export async function isRevoked(db: Database, spiffeId: string): Promise<boolean> {
  const [row] = await db.select({ spiffeId: revocations.spiffeId }).from(revocations).where(eq(revocations.spiffeId, spiffeId));
  return row !== undefined;
}

/** Whether a node identity was ever attested, and whether it is revoked. */
export interface NodeStanding {
  attested: boolean;
  revoked: boolean;
}

/** A node's standing, read from D1 (two point reads). */
export async function readNodeStanding(db: Database, spiffeId: string): Promise<NodeStanding> {
  const [[revoked], [attested]] = await Promise.all([
    db.select({ spiffeId: revocations.spiffeId }).from(revocations).where(eq(revocations.spiffeId, spiffeId)),
    db.select({ spiffeId: attestedNodes.spiffeId }).from(attestedNodes).where(eq(attestedNodes.spiffeId, spiffeId)),
  ]);
  return { attested: attested !== undefined, revoked: revoked !== undefined };
}

/** Why a node with this standing may not act as a node (the message of its 401), or null when it may. */
export function standingRefusal(spiffeId: string, s: NodeStanding): string | null {
  if (s.revoked) return `node ${spiffeId} has been revoked`;
  if (!s.attested) return `node ${spiffeId} is not attested`;
  return null;
}

/** Every attested node, with whether it is revoked. */
export async function listNodes(db: Database) {
  const rows = await db
    .select({ node: attestedNodes, revokedAt: revocations.revokedAt })
    .from(attestedNodes)
    .leftJoin(revocations, eq(revocations.spiffeId, attestedNodes.spiffeId))
    .orderBy(attestedNodes.cluster, attestedNodes.node);
  return rows.map(({ node, revokedAt }) => ({
    spiffeId: node.spiffeId,
    cluster: node.cluster,
    node: node.node,
    attestationType: node.attestationType,
    attestedAt: new Date(node.attestedAt).toISOString(),
    lastSeenAt: new Date(node.lastSeenAt).toISOString(),
    currentSerial: node.currentSerial,
    revoked: revokedAt !== null,
    revokedAt: revokedAt === null ? null : new Date(revokedAt).toISOString(),
  }));
}
