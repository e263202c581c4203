import { Hono } from "hono";
import { desc, eq } from "drizzle-orm";
import { apiTokens } from "../../../schema/index.ts";
import { systemClock } from "../../core/clock.ts";
import { ConflictError, NotFoundError, ValidationError } from "../../core/errors.ts";
import type { ControlApp } from "../types.ts";
import { auditInsert } from "../audit.ts";
import { actorOf, requireAdmin } from "../auth.ts";
import { readJsonBody } from "../body.ts";
import { database } from "../db.ts";
import { DEFAULT_API_TOKEN_TTL_SECONDS, MAX_API_TOKEN_TTL_SECONDS, apiTokenView, mintApiToken } from "../api-tokens.ts";
import { arrayAt, enumAt, objectAt, optionalBooleanAt, optionalIntegerAt, plainTextAt, stringAt } from "./fields.ts";
import { apiTokenJwks, apiTokenKeyring, rotateApiTokenKey } from "./api-token-keys.ts";

/** Admin: scoped API tokens. */
export const tokenRoutes = new Hono<ControlApp>();

// RFC 3339 date-time: full date, full time, fraction optional, offset required.
const RFC3339 = /^(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(\.\d{1,9})?([Zz]|[+-]\d\d:\d\d)$/;

/**
 * Milliseconds of an RFC 3339 time, or undefined. `Date.parse` alone is lenient: it takes
 * "2026-02-30T00:00:00Z" as March 2 and T24:00 as the next day, ignores a trailing NUL and
 * reads a time without an offset as local time.
 */
function rfc3339Millis(raw: string): number | undefined {
  const m = RFC3339.exec(raw);
  if (m === null) return undefined;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return undefined;
  if (Number(m[4]) > 23 || Number(m[5]) > 59) return undefined;
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : at;
}

/** A Kubernetes namespace name (RFC 1123 label) or "*" for all. */
const NAMESPACE = /^(\*|[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)$/;

function namespacesAt(o: Record<string, unknown>): string[] {
  return arrayAt(o, "namespaces", { min: 1, max: 64 }).map((ns, i) => {
    if (typeof ns !== "string" || !NAMESPACE.test(ns)) throw new ValidationError(`namespaces[${i}]: must be a namespace name (RFC 1123 label) or "*", got ${JSON.stringify(ns)}`, { field: `namespaces[${i}]` });
    return ns;
  });
}

tokenRoutes.post("/v1/tokens", async (c) => {
  requireAdmin(c);
  const o = objectAt(await readJsonBody(c), "body", ["subject", "namespaces", "access", "ttlSeconds"]);
  const subject = plainTextAt(o, "subject", "subject", 256);
  // API tokens are signed with the trust domain's JWT key; a SPIFFE ID as `sub` would make one
  // look like a JWT-SVID to a verifier that skips the `typ` check (checklist item 76).
  if (/^spiffe:/i.test(subject)) throw new ValidationError("subject: must not be a SPIFFE ID; API tokens name people or automation, not workloads", { field: "subject" });
  const namespaces = namespacesAt(o);
  const access = enumAt(o, "access", ["read", "write"] as const);
  const ttlSeconds = optionalIntegerAt(o, "ttlSeconds", { min: 60, max: MAX_API_TOKEN_TTL_SECONDS }) ?? DEFAULT_API_TOKEN_TTL_SECONDS;
  const db = database(c.env);
  const minted = await mintApiToken(c.env, db, { subject, namespaces, access, ttlSeconds }, systemClock);
  const now = minted.row.createdAt;
  await db.batch([
    db.insert(apiTokens).values(minted.row),
    auditInsert(db, { actor: actorOf(c.get("principal")), action: "token.create", target: `token:${minted.id}`, outcome: "success", detail: { subject, namespaces, access, ttlSeconds } }, now),
  ]);
  return c.json({ id: minted.id, token: minted.token, expiresAt: new Date(minted.expiresAt).toISOString() }, 201);
});

tokenRoutes.get("/v1/tokens", async (c) => {
  requireAdmin(c);
  const rows = await database(c.env).select().from(apiTokens).orderBy(desc(apiTokens.createdAt));
  return c.json({ tokens: rows.map(apiTokenView) });
});

/** The published API-token verification keys (JWK Set; public keys only). */
tokenRoutes.get("/v1/tokens/keys", async (c) => {
  const ring = await apiTokenKeyring(database(c.env), systemClock);
  return c.json(apiTokenJwks(ring, systemClock.now()));
});

/**
 * Admin: a new API-token signing key. The previous key keeps verifying the tokens
 * it signed until they expire, or with `revokePrevious: true` (key compromise)
 * none of them verifies any more.
 */
tokenRoutes.post("/v1/tokens/keys/rotate", async (c) => {
  requireAdmin(c);
  const o = objectAt(await readJsonBody(c), "body", ["revokePrevious"]);
  const revokePrevious = optionalBooleanAt(o, "revokePrevious") ?? false;
  const db = database(c.env);
  const rotated = await rotateApiTokenKey(c.env, db, systemClock, { revokePrevious });
  const now = systemClock.now();
  await db.batch([auditInsert(db, { actor: actorOf(c.get("principal")), action: "token.keys.rotate", target: `token-key:${rotated.kid}`, outcome: "success", detail: { previous: rotated.previous } }, now)]);
  return c.json(rotated, 201);
});

/**
 * Admin: narrows a token: fewer namespaces, write -> read, an earlier expiry.
 * Widening is refused (mint a new token). Takes effect on the token's next use,
 * since verification reads the stored row, not the token's claims.
 */
tokenRoutes.patch("/v1/tokens/:id", async (c) => {
  requireAdmin(c);
  const id = c.req.param("id");
  const o = objectAt(await readJsonBody(c), "body", ["namespaces", "access", "expiresAt"]);
  const db = database(c.env);
  const [row] = await db.select().from(apiTokens).where(eq(apiTokens.id, id));
  if (row === undefined) throw new NotFoundError(`id: API token ${id} does not exist`, { field: "id" });
  if (row.revokedAt !== null) throw new ConflictError(`id: API token ${id} is revoked`, { field: "id" });
  const now = systemClock.now();
  const current = apiTokenView(row);
  const update: { namespaces?: string; access?: "read" | "write"; expiresAt?: number } = {};
  if (o["namespaces"] !== undefined) {
    const namespaces = namespacesAt(o);
    if (!current.namespaces.includes("*")) {
      const wider = namespaces.findIndex((ns) => !current.namespaces.includes(ns));
      if (wider >= 0) throw new ValidationError(`namespaces[${wider}]: ${namespaces[wider]} is not in the token's scope (${current.namespaces.join(", ")}); a token can only be narrowed`, { field: `namespaces[${wider}]` });
    }
    update.namespaces = JSON.stringify(namespaces);
  }
  if (o["access"] !== undefined) {
    const access = enumAt(o, "access", ["read", "write"] as const);
    if (access === "write" && row.access === "read") throw new ValidationError("access: a read token cannot become write; a token can only be narrowed", { field: "access" });
    update.access = access;
  }
  if (o["expiresAt"] !== undefined) {
    const raw = stringAt(o, "expiresAt", "expiresAt", 64);
    const at = rfc3339Millis(raw);
    if (at === undefined) throw new ValidationError(`expiresAt: must be an RFC 3339 time like 2030-01-02T03:04:05Z, got ${JSON.stringify(raw)}`, { field: "expiresAt" });
    if (at > row.expiresAt) throw new ValidationError(`expiresAt: later than the token's expiry ${current.expiresAt}; a token can only be narrowed`, { field: "expiresAt" });
    update.expiresAt = Math.max(at, 0);
  }
  if (Object.keys(update).length === 0) throw new ValidationError("body: give namespaces, access or expiresAt", { field: "body" });
  await db.batch([
    db.update(apiTokens).set(update).where(eq(apiTokens.id, id)),
    auditInsert(db, { actor: actorOf(c.get("principal")), action: "token.update", target: `token:${id}`, outcome: "success", detail: { ...update, ...(update.namespaces === undefined ? {} : { namespaces: JSON.parse(update.namespaces) as string[] }) } }, now),
  ]);
  return c.json(apiTokenView({ ...row, ...update }));
});

tokenRoutes.delete("/v1/tokens/:id", async (c) => {
  requireAdmin(c);
  const id = c.req.param("id");
  const db = database(c.env);
  const [row] = await db.select().from(apiTokens).where(eq(apiTokens.id, id));
  if (row === undefined) throw new NotFoundError(`id: API token ${id} does not exist`, { field: "id" });
  if (row.revokedAt !== null) throw new ConflictError(`id: API token ${id} is already revoked`, { field: "id" });
  const now = systemClock.now();
  await db.batch([
    db.update(apiTokens).set({ revokedAt: now }).where(eq(apiTokens.id, id)),
    auditInsert(db, { actor: actorOf(c.get("principal")), action: "token.revoke", target: `token:${id}`, outcome: "success", detail: { subject: row.subject } }, now),
  ]);
  return c.json(apiTokenView({ ...row, revokedAt: now }));
});
