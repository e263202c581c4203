/**
 * Random W3C trace-context ids and request UUIDs, from Web Crypto's CSPRNG, shared by the edge
 * gateway and the node proxy (runtime-free: Web Crypto and the Encoding API only).
 */

/**
 * Random bytes drawn from a pool refilled 4 KiB at a time, kept as lowercase hex: ids are needed
 * several times per request, and one `getRandomValues` call (or one string built byte by byte)
 * per id cost more than the ids themselves. An id is a slice of the pool's hex. A refill writes
 * the hex digits as bytes and decodes them in one call (one string, no 4,096 two-character
 * strings joined: about a fifth of the cost per byte).
 */
const POOL_BYTES = 4096;
const HEX_DIGITS = new TextEncoder().encode("0123456789abcdef");
const ASCII = new TextDecoder();
let poolHex = "";
let poolAt = 0;

/** Offset into `poolHex` of `n` fresh random bytes (2 hex characters each). */
function takeRandom(n: number): number {
  if (poolAt + n > POOL_BYTES || poolHex === "") {
    const bytes = crypto.getRandomValues(new Uint8Array(POOL_BYTES));
    const digits = new Uint8Array(POOL_BYTES * 2);
    for (let i = 0; i < POOL_BYTES; i++) {
      const b = bytes[i]!;
      digits[2 * i] = HEX_DIGITS[b >> 4]!;
      digits[2 * i + 1] = HEX_DIGITS[b & 15]!;
    }
    poolHex = ASCII.decode(digits);
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
  if (out.charCodeAt(0) === 48 && out === ZEROS.slice(0, bytes * 2)) return `01${out.slice(2)}`;
  return out;
}

/**
 * A random (version 4) UUID: Web Crypto's `randomUUID`, one native call in workerd, Deno and
 * Node (cheaper than formatting one from the pool).
 */
export function randomUuid(): string {
  return crypto.randomUUID();
}
