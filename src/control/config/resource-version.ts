import { ValidationError } from "../../core/errors.ts";

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * `metadata.resourceVersion` as a client sent it, if any. It must be the
 * decimal string the server returned; anything else is a 400 naming `path`.
 */
export function requestedResourceVersion(doc: unknown, path = "metadata.resourceVersion"): number | undefined {
  const meta = isRecord(doc) && isRecord(doc.metadata) ? doc.metadata : undefined;
  const rv = meta?.resourceVersion;
  if (rv === undefined || rv === null || rv === "") return undefined;
  if ((typeof rv !== "string" && typeof rv !== "number") || !/^[0-9]+$/.test(String(rv))) {
    throw new ValidationError(`${path}: must be a decimal string as returned by the server`, { field: path });
  }
  return Number(rv);
}
