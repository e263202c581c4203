/**
 * Maglev consistent hashing (Envoy maglev; `consistentHash.maglev.tableSize`,
 * default 65537, a prime). Each endpoint fills lookup-table slots along its
 * own permutation (offset, skip) in turn; a key maps to slot hash % size.
 * When the chosen endpoint is excluded the key is rehashed with an attempt
 * counter, so other keys keep their endpoints.
 */
import type { UpstreamEndpoint } from "../types.ts";
import { endpointKey, hash32 } from "./hash.ts";
import { RandomBalancer } from "./random.ts";
import type { LoadBalancer, PickContext } from "./types.ts";

export const DEFAULT_MAGLEV_TABLE_SIZE = 65537;

export function buildMaglevTable(endpoints: readonly UpstreamEndpoint[], size: number): Int32Array {
  const table = new Int32Array(size).fill(-1);
  const n = endpoints.length;
  if (n === 0) return table;
  const offset = endpoints.map((ep) => hash32(endpointKey(ep), 0x9747b28c) % size);
  const skip = endpoints.map((ep) => (hash32(endpointKey(ep), 0x5bd1e995) % (size - 1)) + 1);
  const next = new Array<number>(n).fill(0);
  let filled = 0;
  for (;;) {
    for (let i = 0; i < n; i++) {
      let c = (offset[i]! + next[i]! * skip[i]!) % size;
      while (table[c]! >= 0) {
        next[i] = next[i]! + 1;
        c = (offset[i]! + next[i]! * skip[i]!) % size;
      }
      table[c] = i;
      next[i] = next[i]! + 1;
      if (++filled === size) return table;
    }
  }
}

export class MaglevBalancer implements LoadBalancer {
  private cached: { endpoints: readonly UpstreamEndpoint[]; table: Int32Array } | undefined;
  private readonly fallback: RandomBalancer;

  constructor(
    private readonly tableSize: number,
    rng: () => number,
  ) {
    this.fallback = new RandomBalancer(rng);
  }

  pick(endpoints: readonly UpstreamEndpoint[], ctx: PickContext = {}): UpstreamEndpoint | undefined {
    if (endpoints.length === 0) return undefined;
    if (ctx.hashKey === undefined) return this.fallback.pick(endpoints, ctx);
    if (this.cached?.endpoints !== endpoints) this.cached = { endpoints, table: buildMaglevTable(endpoints, this.tableSize) };
    const table = this.cached.table;
    for (let attempt = 0; attempt < 16; attempt++) {
      const key = attempt === 0 ? ctx.hashKey : `${ctx.hashKey}#${attempt}`;
      const ep = endpoints[table[hash32(key) % table.length]!]!;
      if (ctx.exclude?.(ep) !== true) return ep;
    }
    return endpoints.find((ep) => ctx.exclude?.(ep) !== true);
  }

  release(): void {}
}
