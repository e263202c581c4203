/**
 * Random W3C trace-context ids and request UUIDs, from Web Crypto's CSPRNG, shared by the edge
 * gateway and the node proxy (runtime-free: `crypto.getRandomValues` only).
 */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * Random bytes drawn from a pool refilled 4 KiB at a time, kept as lowercase hex: ids are needed
 * several times per request, and one `getRandomValues` call (or one string built byte by byte)
 * per id cost more than the ids themselves. An id is a slice of the pool's hex.
 */
const POOL_BYTES = 4096;
let poolHex = "";
let poolAt = 0;

/** Offset into `poolHex` of `n` fresh random bytes (2 hex characters each). */
function takeRandom(n: number): number {
  if (poolAt + n > POOL_BYTES || poolHex === "") {
    const bytes = crypto.getRandomValues(new Uint8Array(POOL_BYTES));
    const parts = new Array<string>(POOL_BYTES);
    for (let i = 0; i < POOL_BYTES; i++) parts[i] = HEX[bytes[i]!]!;
    poolHex = parts.join("");
    poolAt = 0;
  }
  const at = poolAt;
  poolAt += n;
  return at * 2;
}

const ZEROS = "0".repeat(64);

/** Random lowercase hex of `bytes` bytes, 1 to 32 (never all zero). */
export function randomHexId(bytes: number): string {
  if (!Number.isInteger(bytes) || bytes < 1 || bytes > 32) throw new RangeError(`randomHexId: bytes must be an integer from 1 to 32, got ${bytes}`);
  const at = takeRandom(bytes);
  const out = poolHex.slice(at, at + bytes * 2);
  // All zero is invalid for trace and span ids (W3C trace-context); about 2^-64 for a span id.
  if (out === ZEROS.slice(0, bytes * 2)) return `01${out.slice(2)}`;
  return out;
}

/** A random (version 4) UUID, from the same pool. */
export function randomUuid(): string {
  const at = takeRandom(16);
  const h = poolHex;
  // Byte 6: version 4 in its high nibble; byte 8: variant 10xx in its top bits.
  const variant = HEX[(parseInt(h.slice(at + 16, at + 18), 16) & 0x3f) | 0x80]!;
  return `${h.slice(at, at + 8)}-${h.slice(at + 8, at + 12)}-4${h.slice(at + 13, at + 16)}-${variant}${h.slice(at + 18, at + 20)}-${h.slice(at + 20, at + 32)}`;
}
