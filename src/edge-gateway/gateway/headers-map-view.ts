/**
 * A `ReadonlyMap` over a `Headers` without copying it: retry decisions read one or two response
 * headers (`grpc-status`, `x-envoy-ratelimited`) of every upstream response, and copying all of
 * them into a Map per response cost more than the lookups. Iteration builds the Map on demand.
 */
export class HeadersMapView implements ReadonlyMap<string, string> {
  // `declare`d and assigned in the constructor (one view per upstream response): an ES2022 field would be defined by an initializer.
  declare private copy: Map<string, string> | undefined;
  declare private readonly headers: Headers;

  constructor(headers: Headers) {
    this.headers = headers;
    this.copy = undefined;
  }

  get(key: string): string | undefined {
    return this.headers.get(key) ?? undefined;
  }
  has(key: string): boolean {
    return this.headers.has(key);
  }
  get size(): number {
    return this.all().size;
  }
  forEach(fn: (value: string, key: string, map: ReadonlyMap<string, string>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.all()) fn.call(thisArg, v, k, this);
  }
  entries(): ReturnType<Map<string, string>["entries"]> {
    return this.all().entries();
  }
  keys(): ReturnType<Map<string, string>["keys"]> {
    return this.all().keys();
  }
  values(): ReturnType<Map<string, string>["values"]> {
    return this.all().values();
  }
  [Symbol.iterator](): ReturnType<Map<string, string>["entries"]> {
    return this.all().entries();
  }

  private all(): Map<string, string> {
    if (this.copy === undefined) {
      const m = new Map<string, string>();
      this.headers.forEach((v, k) => m.set(k, v));
      this.copy = m;
    }
    return this.copy;
  }
}
