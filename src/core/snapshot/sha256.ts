const encoder = new TextEncoder();

/** Lowercase hex SHA-256 of `bytes` (or of the UTF-8 of a string), with WebCrypto. */
export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>));
  let hex = "";
  for (const b of digest) hex += HEX[b];
  return hex;
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** A SHA-256 in lowercase hex. */
export const SHA256_HEX = /^[0-9a-f]{64}$/;
