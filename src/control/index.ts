import { Hono } from "hono";
import type { ControlEnv } from "./env.ts";

const app = new Hono<{ Bindings: ControlEnv }>();
app.get("/healthz", async (c) => {
  const row = await c.env.DB.prepare("select count(*) as n from join_tokens").first<{ n: number }>();
  return c.json({ ok: true, tokens: row?.n });
});
export default app;
