import type { Context } from "hono";
import { PayloadTooLargeError, UnsupportedMediaTypeError, ValidationError } from "../core/errors.ts";
import { refuseLoneSurrogates } from "./well-formed-strings.ts";

/** Largest request body the control API reads (64 KiB). */
export const MAX_BODY_BYTES = 65536;

/**
 * Reads the request body as UTF-8, refusing more than `maxBytes`.
 * Checks `Content-Length` first, then counts while streaming so a missing or
 * lying length header cannot make the worker buffer more than the limit.
 */
export async function readBodyText(c: Context, maxBytes: number = MAX_BODY_BYTES): Promise<string> {
  const tooLarge = () => new PayloadTooLargeError(`body: larger than the ${maxBytes}-byte limit`, { field: "body" });
  const declared = c.req.header("content-length");
  if (declared !== undefined && Number(declared) > maxBytes) throw tooLarge();
  const stream = c.req.raw.body;
  if (stream === null) return "";
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    let chunk: ReadableStreamReadResult<Uint8Array>;
    try {
      chunk = await reader.read();
    } catch {
      // The client stopped sending before the body was whole (e.g. fewer bytes than its
      // Content-Length, then a closed connection): the client's mistake, not ours.
      throw new ValidationError(
        declared === undefined ? "body: the connection closed before the body was complete" : `body: ended after ${total} of the ${declared} bytes Content-Length announced`,
        { field: "body" },
      );
    }
    const { done, value } = chunk;
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge();
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ValidationError("body: not valid UTF-8", { field: "body" });
  }
}

/** `curl -d` sends form-urlencoded and some clients text/plain; their bodies are still tried as JSON. */
const LENIENT_MEDIA_TYPES = new Set(["application/x-www-form-urlencoded", "text/plain"]);

function isJsonMediaType(contentType: string): boolean {
  const media = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  return media === "application/json" || (media.startsWith("application/") && media.endsWith("+json")) || LENIENT_MEDIA_TYPES.has(media);
}

/**
 * Reads and parses a JSON body. No `Content-Type`, JSON, or curl's default
 * form type is parsed as JSON; any other declared type (YAML, multipart, ...)
 * gives 415. Unparseable text gives a 400 `ValidationError` on field `body`, a string
 * with a lone surrogate (`"\ud800"`) one naming where it is.
 */
export async function readJsonBody(c: Context, maxBytes: number = MAX_BODY_BYTES): Promise<unknown> {
  const contentType = c.req.header("content-type");
  if (contentType !== undefined && contentType !== "" && !isJsonMediaType(contentType)) {
    throw new UnsupportedMediaTypeError(`body: Content-Type must be application/json, got ${contentType.split(";")[0]}`, { field: "body" });
  }
  const text = await readBodyText(c, maxBytes);
  if (text.trim() === "") throw new ValidationError("body: empty, expected a JSON object", { field: "body" });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch (err) {
    // Only the position: the parser's own message quotes the body, which may hold a token.
    const position = err instanceof Error ? /position (\d+)/.exec(err.message)?.[1] : undefined;
    throw new ValidationError(`body: not valid JSON${position === undefined ? "" : ` (at position ${position})`}`, { field: "body" });
  }
  refuseLoneSurrogates(parsed, "");
  return parsed;
}
