import { Hono } from "hono";
import { systemClock } from "../../core/clock.ts";
import type { ControlApp } from "../types.ts";
import { authoritiesPem, bundleDocument, loadAuthority } from "./authority.ts";

/** Public trust bundle endpoints. */
export const bundleRoutes = new Hono<ControlApp>();

bundleRoutes.get("/.well-known/spiffe-bundle", async (c) => {
  const authority = await loadAuthority(c.env, systemClock);
  c.header("Cache-Control", "public, max-age=60");
  return c.json(bundleDocument(authority, systemClock.now()));
});

bundleRoutes.get("/v1/identity/bundle.pem", async (c) => {
  const authority = await loadAuthority(c.env, systemClock);
  return c.body(authoritiesPem(authority, systemClock.now()), 200, { "Content-Type": "application/x-pem-file", "Cache-Control": "public, max-age=60" });
});
