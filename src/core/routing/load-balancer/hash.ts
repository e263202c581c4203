/** 32-bit FNV-1a over UTF-16 code units with a murmur3 finalizer, for ring and Maglev positions. */
export function hash32(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Stable identity of an endpoint for balancer state. */
export function endpointKey(ep: { address: string; port: number }): string {
  return `${ep.address}:${ep.port}`;
}

const KEYS = new WeakMap<object, string>();

/**
 * `endpointKey` remembered per endpoint object: balancers that count per endpoint look the key
 * up on every pick and release, and a fresh `address:port` string each time had to be built
 * and hashed again. Keys follow the endpoint's address and port (a snapshot's endpoints are
 * never mutated; a per-request endpoint simply gets its own entry).
 */
export function cachedEndpointKey(ep: { address: string; port: number }): string {
  let k = KEYS.get(ep);
  if (k === undefined) {
    k = endpointKey(ep);
    KEYS.set(ep, k);
  }
  return k;
}
