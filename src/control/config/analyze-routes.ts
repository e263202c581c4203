import { Hono } from "hono";
import type { ControlApp } from "../types.ts";
import { requireAccess } from "../auth.ts";
import { analyze } from "../../core/config/analyze.ts";
import { asAnyResource } from "./resource-record.ts";
import { loadAllResources } from "./resource-queries.ts";
import { db } from "./land-changes.ts";

/** `GET /v1/analyze`: istioctl-analyze-style findings on the stored config. */
export const analyzeRoutes = new Hono<ControlApp>();

analyzeRoutes.get("/v1/analyze", async (c) => {
  requireAccess(c, "*", "read");
  const stored = await loadAllResources(db(c));
  const findings = analyze(stored.map(asAnyResource), { rootNamespace: c.env.ROOT_NAMESPACE ?? "strait-system" });
  return c.json({ findings });
});
