import { Hono } from "hono";
import { systemClock } from "../../core/clock.ts";
import type { ControlApp } from "../types.ts";
import { actorOf, requireAdmin } from "../auth.ts";
import { readJsonBody } from "../body.ts";
import { database } from "../db.ts";
import { activateGeneration, describeAuthority, stageGeneration } from "./ca-rotation.ts";
import { integerAt, objectAt, optionalBooleanAt, stringAt } from "./fields.ts";

/** Admin: CA generations and rotation (stage, then activate; `force` skips the publication lead time). */
export const caRoutes = new Hono<ControlApp>();

caRoutes.get("/v1/identity/ca", async (c) => {
  requireAdmin(c);
  return c.json(await describeAuthority(c.env, systemClock));
});

caRoutes.post("/v1/identity/ca/stage", async (c) => {
  requireAdmin(c);
  const o = objectAt(await readJsonBody(c), "body", ["certificatePem", "privateKeyPem"]);
  const pair = { certificatePem: stringAt(o, "certificatePem"), privateKeyPem: stringAt(o, "privateKeyPem") };
  return c.json(await stageGeneration(c.env, database(c.env), actorOf(c.get("principal")), pair, systemClock), 201);
});

caRoutes.post("/v1/identity/ca/activate", async (c) => {
  requireAdmin(c);
  const o = objectAt(await readJsonBody(c), "body", ["generation", "force"]);
  const generation = integerAt(o, "generation", { min: 1, max: Number.MAX_SAFE_INTEGER });
  const force = optionalBooleanAt(o, "force") ?? false;
  return c.json(await activateGeneration(c.env, database(c.env), actorOf(c.get("principal")), generation, systemClock, { force }));
});
