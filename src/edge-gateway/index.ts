import { Hono } from "hono";
import type { GatewayEnv } from "./env.ts";

/**
 * The edge gateway worker. Routing (Istio semantics at the edge) is built on
 * the signed gateway snapshot the control API writes to KV under
 * `snapshot:gateway`; until a snapshot with routes exists every request is
 * answered as Envoy does for an unmatched route: 404 with response flag NR.
 */
const app = new Hono<{ Bindings: GatewayEnv }>();

app.get("/healthz", async (c) => {
  const raw = await c.env.CONFIG.get("snapshot:gateway", "json");
  const version = raw !== null && typeof raw === "object" && "version" in raw ? (raw as { version: unknown }).version : null;
  return c.json({ ok: true, snapshotVersion: version });
});

app.all("*", (c) => {
  c.header("x-strait-response-flags", "NR");
  return c.json({ error: { code: "ERR_NO_ROUTE", message: `no route for ${c.req.method} ${new URL(c.req.url).host}${new URL(c.req.url).pathname}` } }, 404);
});

export default app;
