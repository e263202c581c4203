import { Hono } from "hono";
import { systemClock } from "../../core/clock.ts";
import type { ControlApp } from "../types.ts";
import { auditInsert } from "../audit.ts";
import { actorOf, requireAdmin } from "../auth.ts";
import { readJsonBody } from "../body.ts";
import { database } from "../db.ts";
import { objectAt, optionalIntegerAt, stringAt } from "./fields.ts";
import { DEFAULT_JOIN_TOKEN_TTL_SECONDS, MAX_JOIN_TOKEN_TTL_SECONDS, checkNodeName, newJoinToken } from "./join-tokens.ts";
import { trustDomainOf } from "./settings.ts";

/** Admin: mint one-time node join tokens. */
export const joinTokenRoutes = new Hono<ControlApp>();

joinTokenRoutes.post("/v1/identity/join-tokens", async (c) => {
  requireAdmin(c);
  const o = objectAt(await readJsonBody(c), "body", ["cluster", "node", "ttlSeconds"]);
  const cluster = checkNodeName(stringAt(o, "cluster"), "cluster");
  const node = checkNodeName(stringAt(o, "node"), "node");
  const ttlSeconds = optionalIntegerAt(o, "ttlSeconds", { min: 1, max: MAX_JOIN_TOKEN_TTL_SECONDS }) ?? DEFAULT_JOIN_TOKEN_TTL_SECONDS;
  const db = database(c.env);
  const now = systemClock.now();
  const actor = actorOf(c.get("principal"));
  const minted = await newJoinToken(db, { trustDomain: trustDomainOf(c.env), cluster, node, ttlSeconds, createdBy: actor }, now);
  const spiffeId = minted.spiffeId.toString();
  await db.batch([
    minted.insert,
    auditInsert(db, { actor, action: "identity.join-token.create", target: spiffeId, outcome: "success", detail: { ttlSeconds } }, now),
  ]);
  return c.json({ token: minted.token, cluster, node, spiffeId, expiresAt: new Date(minted.expiresAt).toISOString() }, 201);
});
