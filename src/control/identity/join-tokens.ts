import { and, eq, isNull } from "drizzle-orm";
import { joinTokens } from "../../../schema/index.ts";
import { ValidationError } from "../../core/errors.ts";
import { generateJoinToken, hashJoinToken } from "../../identity/join-token.ts";
import { nodeId, type SpiffeId } from "../../identity/spiffe-id.ts";
import type { Database } from "../db.ts";

export const DEFAULT_JOIN_TOKEN_TTL_SECONDS = 600;
export const MAX_JOIN_TOKEN_TTL_SECONDS = 86400;

export type JoinTokenRow = typeof joinTokens.$inferSelect;

/** A cluster or node name: one SPIFFE path segment (checklist items 14, 16). */
const SEGMENT = /^[A-Za-z0-9._-]{1,253}$/;

export function checkNodeName(value: string, field: string): string {
  if (!SEGMENT.test(value) || value === "." || value === "..") {
    throw new ValidationError(`${field}: must be 1-253 characters of [A-Za-z0-9._-] and not "." or "..", got ${JSON.stringify(value)}`, { field });
  }
  return value;
}

/** A new one-time token bound to `cluster`/`node`; only its hash is stored. */
export async function newJoinToken(
  db: Database,
  o: { trustDomain: string; cluster: string; node: string; ttlSeconds: number; createdBy: string },
  now: number,
) {
  const token = generateJoinToken();
  const expiresAt = now + o.ttlSeconds * 1000;
  const row: JoinTokenRow = { tokenHash: await hashJoinToken(token), cluster: o.cluster, node: o.node, createdAt: now, expiresAt, usedAt: null, createdBy: o.createdBy };
  const spiffeId: SpiffeId = nodeId(o.trustDomain, o.cluster, o.node);
  return { token, spiffeId, expiresAt, insert: db.insert(joinTokens).values(row) };
}

/** The stored token for `token`, if any (read-only; does not consume). */
export async function findJoinToken(db: Database, token: string): Promise<JoinTokenRow | undefined> {
  const [row] = await db.select().from(joinTokens).where(eq(joinTokens.tokenHash, await hashJoinToken(token)));
  return row;
}

/**
 * Marks the token used. Atomic compare-and-set on `used_at IS NULL`: of any
 * number of concurrent callers exactly one sees `true`.
 */
export async function consumeJoinToken(db: Database, tokenHash: string, now: number): Promise<boolean> {
  const result = await db
    .update(joinTokens)
    .set({ usedAt: now })
    .where(and(eq(joinTokens.tokenHash, tokenHash), isNull(joinTokens.usedAt)));
  return result.meta.changes === 1;
}
