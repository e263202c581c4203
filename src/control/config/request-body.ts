import type { Context } from "hono";
import { readBodyText, readJsonBody } from "../body.ts";
import { UnsupportedMediaTypeError, ValidationError } from "../../core/errors.ts";
import { parseDocuments } from "../../core/config/parse-documents.ts";
import { refuseLoneSurrogates } from "../well-formed-strings.ts";

/** Larger than the default: multi-document applies and rollbacks carry whole configs. */
export const MAX_CONFIG_BODY_BYTES = 1024 * 1024;

function mediaType(c: Context): string {
  return (c.req.header("content-type") ?? "").split(";")[0]?.trim().toLowerCase() ?? "";
}

function isYaml(media: string): boolean {
  return media === "application/yaml" || media === "application/x-yaml" || media === "text/yaml" || media === "text/x-yaml";
}

/**
 * The documents of a config body: YAML (`application/yaml`, `application/x-yaml`)
 * may hold several; JSON may be one object, an array or a `List`.
 */
export async function readConfigDocuments(c: Context): Promise<unknown[]> {
  const media = mediaType(c);
  if (media !== "" && !isYaml(media) && media !== "application/json" && !media.endsWith("+json") && media !== "text/plain") {
    throw new UnsupportedMediaTypeError(`body: Content-Type must be application/json or application/yaml, got ${media}`, { field: "body" });
  }
  const text = await readBodyText(c, MAX_CONFIG_BODY_BYTES);
  if (text.trim() === "") throw new ValidationError("body: empty, expected resources", { field: "body" });
  const docs = parseDocuments(text);
  // parseDocuments already refused YAML values that are not JSON data (!!set, !!timestamp...).
  docs.forEach((doc, i) => refuseLoneSurrogates(doc, `documents[${i}]`));
  return docs;
}

/** Exactly one resource from a JSON or YAML body. */
export async function readResourceBody(c: Context): Promise<unknown> {
  const media = mediaType(c);
  if (!isYaml(media)) return readJsonBody(c, MAX_CONFIG_BODY_BYTES);
  const docs = await readConfigDocuments(c);
  if (docs.length !== 1) throw new ValidationError(`body: expected exactly one resource, got ${docs.length}`, { field: "body" });
  return docs[0];
}
