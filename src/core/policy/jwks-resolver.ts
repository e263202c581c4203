/**
 * Remote JWKS for RequestAuthentication `jwksUri`: fetched through an
 * injectable `fetch`, cached per URI, re-fetched after `refreshIntervalMs`
 * and when a token names a `kid` the cached set lacks (at most once per
 * `minRefetchIntervalMs` per URI, so unknown-kid tokens cannot make us hammer
 * the issuer). A failed fetch never yields a key: with no usable cached set,
 * every token of that issuer is rejected. A set that fails to refresh stays in
 * use for at most `maxStaleMs` (istiod keeps its last good keys the same way).
 */
import { createLocalJWKSet, errors as joseErrors, importJWK, type JSONWebKeySet, type JWK, type JWSHeaderParameters } from "jose";
import type { Clock } from "../clock.ts";
import { StraitError, type ErrorCategory } from "../errors.ts";

/** A JWKS could not be fetched or holds no key for a token; the token is rejected. */
export class JwksError extends StraitError {
  readonly code: string = "ERR_JWKS";
  readonly category: ErrorCategory = "unauthenticated";
  /** `fetch`: the set is unavailable; `no-key`: the set has no key for the token. */
  readonly reason: "fetch" | "no-key";
  constructor(message: string, reason: "fetch" | "no-key", options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}

/** Remote JWKS source with caching; one per data plane, shared by every compiled RequestAuthentication. */
export interface JwksResolver {
  /** Key for a token's protected header from the JWKS at `uri`; rejects with `JwksError` (never resolves to "accept"). */
  resolveKey(uri: string, header: JWSHeaderParameters, options?: { timeoutMs?: number }): Promise<CryptoKey | Uint8Array>;
  /** Fetches `uri` now unless a fetch happened within `minRefetchIntervalMs` (e.g. when a snapshot names a new URI). */
  prefetch(uri: string, options?: { timeoutMs?: number }): Promise<void>;
  /**
   * The `jwks_uri` of an issuer by OpenID Connect discovery (`<issuer>/.well-known/openid-configuration`),
   * what Istio does for a rule with neither `jwks` nor `jwksUri`. Cached like key sets; rejects with `JwksError`.
   */
  discoverJwksUri(issuer: string, options?: { timeoutMs?: number }): Promise<string>;
}

export type JwksFetch = (input: string, init?: RequestInit) => Promise<Response>;

export interface JwksResolverOptions {
  clock: Clock;
  /** Defaults to the global `fetch`. */
  fetch?: JwksFetch;
  /** Re-fetch a cached set after this long (istiod's default refresh: 20 minutes). */
  refreshIntervalMs?: number;
  /** At most one re-fetch per URI per this interval when a token names an unknown `kid` (default 60 s). */
  minRefetchIntervalMs?: number;
  /** How long a set that cannot be refreshed is still used (default 24 h). */
  maxStaleMs?: number;
  /** Fetch timeout when a rule sets none (Istio's default: 5 s). */
  timeoutMs?: number;
  /** Largest JWKS document accepted (default 512 KiB). */
  maxBytes?: number;
}

interface CacheEntry {
  keys?: KeyLookup;
  /** For discovery entries: the issuer's `jwks_uri`. */
  jwksUri?: string;
  fetchedAt: number;
  lastAttempt: number;
  lastError?: string;
  inflight?: Promise<void>;
}

const DEFAULTS = {
  refreshIntervalMs: 20 * 60_000,
  minRefetchIntervalMs: 60_000,
  maxStaleMs: 24 * 60 * 60_000,
  timeoutMs: 5_000,
  maxBytes: 512 * 1024,
};

function parseJwks(text: string): JSONWebKeySet {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error("JWKS is not valid JSON");
  }
  if (doc === null || typeof doc !== "object" || !Array.isArray((doc as { keys?: unknown }).keys)) throw new Error('JWKS has no "keys" array');
  return doc as JSONWebKeySet;
}

function parseDiscovery(text: string): string {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error("OpenID configuration is not valid JSON");
  }
  const uri = doc !== null && typeof doc === "object" ? (doc as { jwks_uri?: unknown }).jwks_uri : undefined;
  if (typeof uri !== "string") throw new Error(`invalid jwks_uri ${JSON.stringify(uri)} in the OpenID configuration`);
  let parsed: URL;
  try {
    parsed = new URL(uri);
  } catch {
    throw new Error(`invalid jwks_uri ${JSON.stringify(uri)} in the OpenID configuration`);
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") throw new Error(`jwks_uri ${JSON.stringify(uri)} is not http(s)`);
  return parsed.href;
}

/** Selects the verification key for a token header from a key set. */
export type KeyLookup = (header: JWSHeaderParameters) => Promise<CryptoKey | Uint8Array>;

/**
 * jose's local JWKS for asymmetric keys, plus `oct` keys for HS256/384/512,
 * which Envoy also accepts from a JWKS (jose's JWKS helpers take public keys only).
 */
export function keyLookup(set: JSONWebKeySet): KeyLookup {
  const asymmetric = createLocalJWKSet({ keys: set.keys.filter((k) => k.kty !== "oct") });
  const oct = set.keys.filter((k): k is JWK & { k: string } => k.kty === "oct" && typeof k.k === "string");
  return async (header) => {
    if (typeof header.alg === "string" && header.alg.startsWith("HS")) {
      const candidates = oct.filter((k) => (header.kid === undefined || k.kid === header.kid) && (k.alg === undefined || k.alg === header.alg) && k.use !== "enc");
      if (candidates.length !== 1) throw new joseErrors.JWKSNoMatchingKey();
      return (await importJWK(candidates[0]!, header.alg)) as CryptoKey | Uint8Array;
    }
    return asymmetric(header);
  };
}

/** Builds a key lookup from an inline `jwks` string; throws when it is not a JWKS. */
export function localJwks(text: string): KeyLookup {
  return keyLookup(parseJwks(text));
}

/**
 * @example
 * const jwks = createJwksResolver({ clock: systemClock });
 * const key = await jwks.resolveKey("https://issuer.example/.well-known/jwks.json", { alg: "RS256", kid: "k1" });
 */
export function createJwksResolver(options: JwksResolverOptions): JwksResolver {
  const o = { ...DEFAULTS, ...options };
  const doFetch: JwksFetch = options.fetch ?? ((input, init) => fetch(input, init));
  const cache = new Map<string, CacheEntry>();

  async function load(uri: string, entry: CacheEntry, timeoutMs: number, kind: "jwks" | "discovery"): Promise<void> {
    entry.lastAttempt = o.clock.now();
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), timeoutMs);
    try {
      const res = await doFetch(uri, { signal: controller.signal, headers: { accept: "application/json" }, redirect: "follow" });
      if (res.status !== 200) {
        await res.body?.cancel();
        throw new Error(`JWKS fetch answered HTTP ${res.status}`);
      }
      const declared = Number(res.headers.get("content-length") ?? "0");
      if (declared > o.maxBytes) {
        await res.body?.cancel();
        throw new Error(`JWKS is larger than ${o.maxBytes} bytes`);
      }
      const text = await res.text();
      if (text.length > o.maxBytes) throw new Error(`JWKS is larger than ${o.maxBytes} bytes`);
      if (kind === "jwks") entry.keys = keyLookup(parseJwks(text));
      else entry.jwksUri = parseDiscovery(text);
      entry.fetchedAt = o.clock.now();
      delete entry.lastError;
    } catch (err) {
      entry.lastError = controller.signal.aborted ? `JWKS fetch timed out after ${timeoutMs} ms` : err instanceof Error ? err.message : String(err);
    } finally {
      clearTimeout(timer);
    }
  }

  /** One fetch per URI at a time; concurrent callers share it. */
  function refresh(uri: string, entry: CacheEntry, timeoutMs: number, kind: "jwks" | "discovery" = "jwks"): Promise<void> {
    entry.inflight ??= load(uri, entry, timeoutMs, kind).finally(() => {
      delete entry.inflight;
    });
    return entry.inflight;
  }

  const discovery = new Map<string, CacheEntry>();
  function entryFor(uri: string, map: Map<string, CacheEntry> = cache): CacheEntry {
    let entry = map.get(uri);
    if (entry === undefined) {
      entry = { fetchedAt: -Infinity, lastAttempt: -Infinity };
      map.set(uri, entry);
    }
    return entry;
  }

  function usable(entry: CacheEntry): KeyLookup {
    if (entry.keys === undefined || o.clock.now() - entry.fetchedAt > o.refreshIntervalMs + o.maxStaleMs) {
      throw new JwksError(`Jwks remote fetch is failed${entry.lastError === undefined ? "" : `: ${entry.lastError}`}`, "fetch");
    }
    return entry.keys;
  }

  return {
    async resolveKey(uri, header, opts) {
      const timeoutMs = opts?.timeoutMs ?? o.timeoutMs;
      const entry = entryFor(uri);
      const now = o.clock.now();
      if (now - entry.fetchedAt > o.refreshIntervalMs && now - entry.lastAttempt >= Math.min(o.minRefetchIntervalMs, o.refreshIntervalMs)) {
        await refresh(uri, entry, timeoutMs);
      } else if (entry.inflight !== undefined) {
        await entry.inflight;
      }
      let keys = usable(entry);
      try {
        return await keys(header);
      } catch (err) {
        if (!(err instanceof joseErrors.JWKSNoMatchingKey)) throw new JwksError(`Jwks has no usable key: ${(err as Error).message}`, "no-key", { cause: err });
      }
      // Unknown kid: the issuer may have rotated keys. Re-fetch, rate limited per URI.
      if (o.clock.now() - entry.lastAttempt >= o.minRefetchIntervalMs) {
        await refresh(uri, entry, timeoutMs);
        keys = usable(entry);
        try {
          return await keys(header);
        } catch (err) {
          throw new JwksError(`Jwks has no key for the token: ${(err as Error).message}`, "no-key", { cause: err });
        }
      }
      throw new JwksError("Jwks has no key for the token", "no-key");
    },
    async discoverJwksUri(issuer, opts) {
      let url: URL;
      try {
        let end = issuer.length;
        while (end > 0 && issuer.charCodeAt(end - 1) === 47) end--;
        url = new URL(`${issuer.slice(0, end)}/.well-known/openid-configuration`);
      } catch {
        throw new JwksError(`issuer ${JSON.stringify(issuer)} is not a URL; OpenID Connect discovery needs one`, "fetch");
      }
      if (url.protocol !== "https:" && url.protocol !== "http:") throw new JwksError(`issuer ${JSON.stringify(issuer)} is not an http(s) URL`, "fetch");
      const entry = entryFor(issuer, discovery);
      const now = o.clock.now();
      if (now - entry.fetchedAt > o.refreshIntervalMs && now - entry.lastAttempt >= Math.min(o.minRefetchIntervalMs, o.refreshIntervalMs)) {
        await refresh(url.href, entry, opts?.timeoutMs ?? o.timeoutMs, "discovery");
      } else if (entry.inflight !== undefined) {
        await entry.inflight;
      }
      if (entry.jwksUri === undefined || o.clock.now() - entry.fetchedAt > o.refreshIntervalMs + o.maxStaleMs) {
        throw new JwksError(`OpenID Connect discovery failed${entry.lastError === undefined ? "" : `: ${entry.lastError}`}`, "fetch");
      }
      return entry.jwksUri;
    },
    async prefetch(uri, opts) {
      const entry = entryFor(uri);
      if (o.clock.now() - entry.lastAttempt < o.minRefetchIntervalMs && entry.keys !== undefined) return;
      await refresh(uri, entry, opts?.timeoutMs ?? o.timeoutMs);
    },
  };
}
