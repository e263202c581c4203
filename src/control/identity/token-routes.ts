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
import { arrayAt, enumAt, objectAt, optionalIntegerAt, plainTextAt } from "./fields.ts";

/** Admin: scoped API tokens. */
export const tokenRoutes = new Hono<ControlApp>();

/** A Kubernetes namespace name (RFC 1123 label) or "*" for all. */
const NAMESPACE = /^(\*|[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)$/;

tokenRoutes.post("/v1/tokens", async (c) => {
  requireAdmin(c);
  const o = objectAt(await readJsonBody(c), "body", ["subject", "namespaces", "access", "ttlSeconds"]);
  const subject = plainTextAt(o, "subject", "subject", 256);
  // API tokens are signed with the trust domain's JWT key; a SPIFFE ID as `sub` would make one
  // look like a JWT-SVID to a verifier that skips the `typ` check (checklist item 76).
  if (/^spiffe:/i.test(subject)) throw new ValidationError("subject: must not be a SPIFFE ID; API tokens name people or automation, not workloads", { field: "subject" });
  const namespaces = arrayAt(o, "namespaces", { min: 1, max: 64 }).map((ns, i) => {
    if (typeof ns !== "string" || !NAMESPACE.test(ns)) throw new ValidationError(`namespaces[${i}]: must be a namespace name (RFC 1123 label) or "*", got ${JSON.stringify(ns)}`, { field: `namespaces[${i}]` });
    return ns;
  });
  const access = enumAt(o, "access", ["read", "write"] as const);
  const ttlSeconds = optionalIntegerAt(o, "ttlSeconds", { min: 60, max: MAX_API_TOKEN_TTL_SECONDS }) ?? DEFAULT_API_TOKEN_TTL_SECONDS;
  const now = systemClock.now();
  const minted = await mintApiToken(c.env, { subject, namespaces, access, ttlSeconds }, now);
  const db = database(c.env);
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
