import { Hono } from "hono";
import { eq } from "drizzle-orm";
import type { ControlApp } from "../types.ts";
import { requireAccess, requireAdmin } from "../auth.ts";
import { readJsonBody } from "../body.ts";
import { ValidationError } from "../../core/errors.ts";
import { systemClock } from "../../core/clock.ts";
import { namespaceQuotas } from "../../../schema/config.ts";
import { defaultQuota, quotaOverride, usageOf } from "./namespace-quotas.ts";
import { db } from "./land-changes.ts";

/** `GET /v1/quotas/<ns>` (limits and usage), `PUT` / `DELETE /v1/quotas/<ns>` (admin override). */
export const quotaRoutes = new Hono<ControlApp>();

const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function namespaceParam(raw: string): string {
  if (!NAMESPACE.test(raw)) throw new ValidationError(`namespace: expected a DNS-1123 label, got ${JSON.stringify(raw.slice(0, 80))}`, { field: "namespace" });
  return raw;
}

function limitAt(body: Record<string, unknown>, field: "maxResources" | "maxBytes"): number {
  const v = body[field];
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) throw new ValidationError(`${field}: expected a non-negative integer`, { field });
  return v;
}

quotaRoutes.get("/v1/quotas/:namespace", async (c) => {
  const ns = namespaceParam(c.req.param("namespace"));
  requireAccess(c, ns, "read");
  const database = db(c);
  const [override, usage] = await Promise.all([quotaOverride(database, ns), usageOf(database, [ns])]);
  return c.json({ namespace: ns, limits: override ?? defaultQuota(c.env), source: override === undefined ? "default" : "override", usage: usage.get(ns) });
});

quotaRoutes.put("/v1/quotas/:namespace", async (c) => {
  requireAdmin(c);
  const ns = namespaceParam(c.req.param("namespace"));
  const body = await readJsonBody(c);
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw new ValidationError('body: expected {"maxResources": n, "maxBytes": n}', { field: "body" });
  const o = body as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => k !== "maxResources" && k !== "maxBytes");
  if (unknown.length > 0) throw new ValidationError(`${unknown[0]}: unknown field`, { field: unknown[0] });
  const limits = { maxResources: limitAt(o, "maxResources"), maxBytes: limitAt(o, "maxBytes") };
  await db(c)
    .insert(namespaceQuotas)
    .values({ namespace: ns, ...limits, updatedAt: systemClock.now() })
    .onConflictDoUpdate({ target: namespaceQuotas.namespace, set: { ...limits, updatedAt: systemClock.now() } });
  return c.json({ namespace: ns, limits, source: "override" });
});

quotaRoutes.delete("/v1/quotas/:namespace", async (c) => {
  requireAdmin(c);
  const ns = namespaceParam(c.req.param("namespace"));
  // Read first: a misconfigured default (503) must refuse the delete, not answer 503 after it.
  const limits = defaultQuota(c.env);
  await db(c).delete(namespaceQuotas).where(eq(namespaceQuotas.namespace, ns));
  return c.json({ namespace: ns, limits, source: "default" });
});
