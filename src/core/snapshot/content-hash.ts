import { canonicalJson } from "./canonical-json.ts";

/** Lowercase hex SHA-256 of the canonical JSON of `value` (WebCrypto). */
export async function contentHash(value: unknown): Promise<string> {
  const bytes = new TextEncoder().encode(canonicalJson(value));
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  let hex = "";
  for (const b of digest) hex += b.toString(16).padStart(2, "0");
  return hex;
}
