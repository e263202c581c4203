import { Hono, type Context } from "hono";
import { systemClock } from "../core/clock.ts";
import { StraitError } from "../core/errors.ts";
import type { ControlApp } from "./types.ts";
import { errorResponse } from "./http-errors.ts";
import { authenticate, actorOf } from "./auth.ts";
import { recordAnonymousRefusal, recordAudit } from "./audit.ts";
import { MAX_ERROR_MESSAGE_CHARS, safeExcerpt } from "../core/text-excerpt.ts";
import { database } from "./db.ts";
import { identityRoutes } from "./identity/routes.ts";
import { configRoutes } from "./config/routes.ts";
import { auditRefusalRoutes } from "./audit-refusal-routes.ts";
import { allowedMethods } from "./method-not-allowed.ts";

/** Longest request path an audited refusal keeps: anonymous callers choose it, and it is stored twice per row. */
export const MAX_AUDITED_PATH_CHARS = 256;

/**
 * Every refused request (401/403) is audited here, in one place, so no route can
 * forget to; the write is best-effort and never changes the response. A caller with
 * credentials gets a row of its own; refusals of callers without valid credentials are
 * only counted, per source, code and minute (`audit_refusals`), and nothing of theirs
 * but a short safe excerpt of the path is kept.
 */
async function auditRefusal(c: Context<ControlApp>, err: StraitError): Promise<void> {
  try {
    const path = safeExcerpt(new URL(c.req.url).pathname, MAX_AUDITED_PATH_CHARS);
    const principal = c.get("principal");
    const now = systemClock.now();
    if (principal === undefined) {
      const source = safeExcerpt(c.req.header("cf-connecting-ip") ?? "unknown", 64);
      await recordAnonymousRefusal(database(c.env), { source, code: err.code, sample: safeExcerpt(`${c.req.method} ${path}`, 128) }, now);
      return;
    }
    await recordAudit(
      database(c.env),
      { actor: actorOf(principal), action: `${c.req.method} ${path}`, target: path, outcome: "denied", detail: { code: err.code, message: safeExcerpt(err.message, MAX_ERROR_MESSAGE_CHARS) } },
      now,
    );
  } catch (auditErr) {
    console.error("audit of a refusal failed", auditErr instanceof Error ? auditErr.message : String(auditErr));
  }
}

/** Builds the control API. The worker entry (index.ts) only exports this. */
export function createControlApp(): Hono<ControlApp> {
  const app = new Hono<ControlApp>();
  app.onError(async (err, c) => {
    if (err instanceof StraitError && (err.category === "unauthenticated" || err.category === "forbidden")) await auditRefusal(c, err);
    return errorResponse(c, err);
  });
  const allowed = allowedMethods(app);
  app.notFound((c) => {
    const path = new URL(c.req.url).pathname;
    const methods = allowed(c.req.path);
    // A route of this very method answering "not found" (c.notFound()) stays a 404.
    if (methods.length > 0 && !methods.includes(c.req.method)) {
      return c.json({ error: { code: "ERR_METHOD_NOT_ALLOWED", message: `method: ${c.req.method} is not allowed on ${safeExcerpt(path, MAX_AUDITED_PATH_CHARS)}; use ${methods.join(", ")}`, field: "method" } }, 405, { Allow: methods.join(", ") });
    }
    return c.json({ error: { code: "ERR_NOT_FOUND", message: `no route for ${c.req.method} ${path}` } }, 404);
  });
  app.get("/healthz", (c) => c.json({ ok: true }));
  app.use("*", authenticate);
  app.route("/", auditRefusalRoutes);
  app.route("/", identityRoutes);
  app.route("/", configRoutes);
  return app;
}
