import { Hono } from "hono";
import { systemClock } from "../../core/clock.ts";
import { ConflictError, NotFoundError } from "../../core/errors.ts";
import type { ControlApp } from "../types.ts";
import { auditInsert } from "../audit.ts";
import { actorOf, requireAdmin } from "../auth.ts";
import { readJsonBody } from "../body.ts";
import { database, isUniqueViolation } from "../db.ts";
import { objectAt, stringAt } from "./fields.ts";
import { nodeSpiffeIdAt, workloadSpiffeIdAt } from "./identity-fields.ts";
import { deleteRegistration, findRegistration, findRegistrationById, insertRegistration, listRegistrations, registrationView } from "./registrations.ts";
import { trustDomainOf } from "./settings.ts";

/** Admin: which workload identities each node may obtain. */
export const registrationRoutes = new Hono<ControlApp>();

registrationRoutes.get("/v1/identity/registrations", async (c) => {
  requireAdmin(c);
  const nodeFilter = c.req.query("node");
  const node = nodeFilter === undefined ? undefined : nodeSpiffeIdAt(nodeFilter, "node", trustDomainOf(c.env)).id.toString();
  const rows = await listRegistrations(database(c.env), node);
  return c.json({ registrations: rows.map(registrationView) });
});

registrationRoutes.post("/v1/identity/registrations", async (c) => {
  requireAdmin(c);
  const trustDomain = trustDomainOf(c.env);
  const o = objectAt(await readJsonBody(c), "body", ["spiffeId", "node"]);
  const spiffeId = workloadSpiffeIdAt(stringAt(o, "spiffeId", "spiffeId", 2048), "spiffeId", trustDomain).toString();
  const node = nodeSpiffeIdAt(stringAt(o, "node", "node", 2048), "node", trustDomain).id.toString();
  const db = database(c.env);
  if ((await findRegistration(db, spiffeId, node)) !== undefined) throw new ConflictError(`spiffeId: ${spiffeId} is already registered to ${node}`, { field: "spiffeId" });
  const now = systemClock.now();
  const row = { id: crypto.randomUUID(), spiffeId, nodeSpiffeId: node, source: "admin", sourceRef: null, createdAt: now };
  try {
    await db.batch([
      insertRegistration(db, row),
      auditInsert(db, { actor: actorOf(c.get("principal")), action: "identity.registration.create", target: spiffeId, outcome: "success", detail: { id: row.id, node } }, now),
    ]);
  } catch (err) {
    // The unique index caught a concurrent identical registration.
    if (!isUniqueViolation(err)) throw err;
    throw new ConflictError(`spiffeId: ${spiffeId} is already registered to ${node}`, { field: "spiffeId" });
  }
  return c.json(registrationView(row), 201);
});

registrationRoutes.delete("/v1/identity/registrations/:id", async (c) => {
  requireAdmin(c);
  const id = c.req.param("id");
  const db = database(c.env);
  const row = await findRegistrationById(db, id);
  if (row === undefined) throw new NotFoundError(`id: registration ${id} does not exist`, { field: "id" });
  const now = systemClock.now();
  await db.batch([
    deleteRegistration(db, id),
    auditInsert(db, { actor: actorOf(c.get("principal")), action: "identity.registration.delete", target: row.spiffeId, outcome: "success", detail: { id, node: row.nodeSpiffeId } }, now),
  ]);
  return c.json({ deleted: registrationView(row) });
});
