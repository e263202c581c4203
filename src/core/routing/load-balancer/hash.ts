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
