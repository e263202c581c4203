/**
 * Random W3C trace-context ids and request UUIDs, from Web Crypto's CSPRNG, shared by the edge
 * gateway and the node proxy (runtime-free: `crypto.getRandomValues` only).
 */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * Random bytes drawn from a pool refilled 4 KiB at a time: ids are needed several times per
 * request, and one `getRandomValues` call per id cost more than the ids themselves.
 */
const POOL_BYTES = 4096;
let pool = new Uint8Array(0);
let poolAt = 0;

function takeRandom(n: number): number {
  if (poolAt + n > pool.length) {
    pool = crypto.getRandomValues(new Uint8Array(POOL_BYTES));
    poolAt = 0;
  }
  const at = poolAt;
  poolAt += n;
  return at;
}

/** Random lowercase hex of `bytes` bytes (never all zero). */
export function randomHexId(bytes: number): string {
  const at = takeRandom(bytes);
  let out = "";
  let zero = true;
  for (let i = at; i < at + bytes; i++) {
    if (pool[i] !== 0) zero = false;
    out += HEX[pool[i]!];
  }
  return zero ? `01${out.slice(2)}` : out;
}

/** A random (version 4) UUID, from the same pool. */
export function randomUuid(): string {
  const at = takeRandom(16);
  let out = "";
  for (let i = 0; i < 16; i++) {
    let byte = pool[at + i]!;
    if (i === 6) byte = (byte & 0x0f) | 0x40;
    else if (i === 8) byte = (byte & 0x3f) | 0x80;
    if (i === 4 || i === 6 || i === 8 || i === 10) out += "-";
    out += HEX[byte];
  }
  return out;
}
