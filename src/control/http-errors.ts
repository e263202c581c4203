import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { StraitError, type ErrorCategory } from "../core/errors.ts";
import { MAX_ERROR_MESSAGE_CHARS, safeExcerpt } from "../core/text-excerpt.ts";

/** The one place where error categories become HTTP statuses. */
const STATUS: Record<ErrorCategory, ContentfulStatusCode> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  unsupported_media: 415,
  unavailable: 503,
};

export function statusFor(err: StraitError): ContentfulStatusCode {
  return STATUS[err.category];
}

/**
 * Error body: `{"error": {"code", "message", "field"?, "details"?}}`.
 * Unknown errors become a 500 without internals in the body (they are logged).
 */
export function errorResponse(c: Context, err: unknown): Response {
  if (err instanceof StraitError) {
    // Messages may quote what the client sent (an unverified token's kid, a path): only a short safe excerpt goes back.
    const body: Record<string, unknown> = { ...err.toJSON(), message: safeExcerpt(err.message, MAX_ERROR_MESSAGE_CHARS) };
    const details = (err as { details?: unknown }).details;
    if (details !== undefined) body.details = details;
    const res = c.json({ error: body }, statusFor(err));
    if (err.category === "unauthenticated") res.headers.set("WWW-Authenticate", 'Bearer realm="strait"');
    return res;
  }
  console.error("unhandled error", err instanceof Error ? err.stack : String(err));
  return c.json({ error: { code: "ERR_INTERNAL", message: "internal error" } }, 500);
}
