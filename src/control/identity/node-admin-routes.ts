import { Hono } from "hono";
import { and, desc, eq } from "drizzle-orm";
import { issuedSvids } from "../../../schema/index.ts";
import { systemClock } from "../../core/clock.ts";
import { ConflictError, ForbiddenError, NotFoundError, UnauthenticatedError, ValidationError } from "../../core/errors.ts";
import type { ControlApp } from "../types.ts";
import { auditInsert } from "../audit.ts";
import { actorOf, requireAdmin } from "../auth.ts";
import { readJsonBody } from "../body.ts";
import { database, isUniqueViolation } from "../db.ts";
import { objectAt, plainTextAt, stringAt } from "./fields.ts";
import { nodeSpiffeIdAt } from "./identity-fields.ts";
import { deleteAttestedNode, listNodes, readNodeStanding } from "./nodes.ts";
import { nodesChangedAfterWrite } from "../config/snapshot-publisher.ts";
import { findRevocation, insertRevocation, listRevocations, revocationView } from "./revocations.ts";
import { trustDomainOf } from "./settings.ts";

/** Admin view of nodes (attested nodes, issued SVIDs) and node revocation. */
export const nodeAdminRoutes = new Hono<ControlApp>();

nodeAdminRoutes.get("/v1/identity/nodes", async (c) => {
  requireAdmin(c);
  return c.json({ nodes: await listNodes(database(c.env)) });
});

nodeAdminRoutes.get("/v1/identity/svids", async (c) => {
  requireAdmin(c);
  const spiffeId = c.req.query("spiffeId");
  const node = c.req.query("node");
  const rows = await database(c.env)
    .select()
    .from(issuedSvids)
    .where(and(spiffeId === undefined ? undefined : eq(issuedSvids.spiffeId, spiffeId), node === undefined ? undefined : eq(issuedSvids.node, node)))
    .orderBy(desc(issuedSvids.issuedAt))
    .limit(1000);
  return c.json({
    svids: rows.map((r) => ({
      serial: r.serial,
      spiffeId: r.spiffeId,
      node: r.node,
      caGeneration: r.caGeneration,
      notBefore: new Date(r.notBefore).toISOString(),
      notAfter: new Date(r.notAfter).toISOString(),
      issuedAt: new Date(r.issuedAt).toISOString(),
    })),
  });
});

nodeAdminRoutes.get("/v1/identity/revocations", async (c) => {
  const p = c.get("principal");
  if (p === undefined) throw new UnauthenticatedError("authentication required: send Authorization: Bearer <credential>");
  if (p.type !== "admin" && p.type !== "node") throw new ForbiddenError("revocations are readable by admin and node credentials only");
  return c.json(await listRevocations(database(c.env)));
});

nodeAdminRoutes.post("/v1/identity/revocations", async (c) => {
  requireAdmin(c);
  const o = objectAt(await readJsonBody(c), "body", ["spiffeId", "reason"]);
  const spiffeId = nodeSpiffeIdAt(stringAt(o, "spiffeId", "spiffeId", 2048), "spiffeId", trustDomainOf(c.env)).id.toString();
  const reason = plainTextAt(o, "reason", "reason", 1024);
  const db = database(c.env);
  if ((await findRevocation(db, spiffeId)) !== undefined) throw new ConflictError(`spiffeId: ${spiffeId} is already revoked`, { field: "spiffeId" });
  const now = systemClock.now();
  const actor = actorOf(c.get("principal"));
  const row = { spiffeId, reason, revokedAt: now, revokedBy: actor };
  try {
    await db.batch([insertRevocation(db, row), auditInsert(db, { actor, action: "identity.revoke", target: spiffeId, outcome: "success", detail: { reason } }, now)]);
  } catch (err) {
    // The primary key caught a concurrent revocation of the same node.
    if (!isUniqueViolation(err)) throw err;
    throw new ConflictError(`spiffeId: ${spiffeId} is already revoked`, { field: "spiffeId" });
  }
  // Node snapshots carry the deny list: republish so proxies see the revocation on their next long-poll.
  await nodesChangedAfterWrite(c.env);
  return c.json(revocationView(row), 201);
});

/**
 * Evicts an attested node, as SPIRE's `agent evict` does: its attestation record goes, so its
 * credentials stop working for node calls (snapshot reads, SVID renewal, workload SVIDs) until
 * it attests again, and the publisher takes its snapshot target down (the KV manifest copy, the
 * head; its blobs after their retention) unless WorkloadEntries are still placed on the node (the
 * snapshot then stays, for the node's next proxy). Its issued SVIDs stay on record; a revocation, if any,
 * stays in force. The node's own SVID is not revoked: it expires (use a revocation for that).
 */
nodeAdminRoutes.delete("/v1/identity/nodes", async (c) => {
  requireAdmin(c);
  const raw = c.req.query("spiffeId");
  if (raw === undefined || raw === "") throw new ValidationError("spiffeId: query parameter is required (the node's SPIFFE ID)", { field: "spiffeId" });
  if (raw.length > 2048) throw new ValidationError("spiffeId: longer than 2048 characters", { field: "spiffeId" });
  const spiffeId = nodeSpiffeIdAt(raw, "spiffeId", trustDomainOf(c.env)).id.toString();
  const db = database(c.env);
  if (!(await readNodeStanding(db, spiffeId)).attested) throw new NotFoundError(`spiffeId: node ${spiffeId} is not attested`, { field: "spiffeId" });
  const now = systemClock.now();
  const actor = actorOf(c.get("principal"));
  await db.batch([deleteAttestedNode(db, spiffeId), auditInsert(db, { actor, action: "identity.evict", target: spiffeId, outcome: "success" }, now)]);
  // The publisher reads node standing again (the node's reads are refused from here on) and
  // publishes without the node's target.
  await nodesChangedAfterWrite(c.env);
  return c.json({ evicted: spiffeId, evictedAt: new Date(now).toISOString() });
});
