import { Hono } from "hono";
import type { ControlApp } from "./types.ts";
import { errorResponse } from "./http-errors.ts";
import { identityRoutes } from "./identity/routes.ts";
import { configRoutes } from "./config/routes.ts";

/** Builds the control API. The worker entry (index.ts) only exports this. */
export function createControlApp(): Hono<ControlApp> {
  const app = new Hono<ControlApp>();
  app.onError((err, c) => errorResponse(c, err));
  app.notFound((c) => c.json({ error: { code: "ERR_NOT_FOUND", message: `no route for ${c.req.method} ${new URL(c.req.url).pathname}` } }, 404));
  app.get("/healthz", (c) => c.json({ ok: true }));
  app.route("/", identityRoutes);
  app.route("/", configRoutes);
  return app;
}
