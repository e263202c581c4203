/**
 * The keys that sign scoped API tokens, kept apart from the CA generations'
 * JWT-SVID keys: an API token lives up to a year, and retiring a CA generation
 * must not wait for it; nor can an API token ever pass as a JWT-SVID, since its
 * key is not in the SPIFFE bundle.
 *
 * Lifecycle: the first key is made on the first mint (sealed with CA_KEK, no new
 * secret). `rotateApiTokenKey` makes a new active key; the previous one is retired
 * and still verifies the tokens it signed until the last of them expires
 * (`verify_until`), or is revoked (compromise) and verifies nothing from then on.
 * Every token is also checked against its stored row (expiry, revocation, scope).
 */
import { and, asc, eq, gte, isNull, lte, max } from "drizzle-orm";
import { apiTokenKeys, apiTokens } from "../../../schema/index.ts";
import type { Clock } from "../../core/clock.ts";
import { ConflictError } from "../../core/errors.ts";
import { generateJwtSigningKeyPem, importJwtSigningKey } from "../../identity/jwt-key.ts";
import { openPrivateKey, sealPrivateKey } from "../../identity/key-encryption.ts";
import { isUniqueViolation, type Database } from "../db.ts";
import type { ControlEnv } from "../env.ts";

/** How long an isolate reuses the key list for verification; rotation and revocation invalidate it locally. */
export const API_TOKEN_KEYS_CACHE_MS = 5000;

export type ApiTokenKeyStatus = "active" | "retired" | "revoked";

/** A row of `api_token_keys` without its sealed private key. */
export interface ApiTokenKeyRecord {
  kid: string;
  seq: number;
  status: ApiTokenKeyStatus;
  publicJwk: JsonWebKey;
  createdAt: number;
  retiredAt: number | null;
  verifyUntil: number | null;
}

/** The verifier's view: every key, and when the first one was made (tokens minted before it are legacy). */
export interface ApiTokenKeyring {
  keys: readonly ApiTokenKeyRecord[];
  firstCreatedAt: number | undefined;
}

/** True while `k` may verify tokens at `now`. */
export function verifies(k: ApiTokenKeyRecord, now: number): boolean {
  return k.status === "active" || (k.status === "retired" && k.verifyUntil !== null && k.verifyUntil > now);
}

let cache: { expires: number; ring: Promise<ApiTokenKeyring> } | undefined;
const imported = new Map<string, Promise<CryptoKey>>();

/** Drops the isolate's cached key list (after a rotation). */
export function invalidateApiTokenKeys(): void {
  cache = undefined;
}

function recordOf(r: typeof apiTokenKeys.$inferSelect): ApiTokenKeyRecord {
  return { kid: r.kid, seq: r.seq, status: r.status, publicJwk: JSON.parse(r.publicJwk) as JsonWebKey, createdAt: r.createdAt, retiredAt: r.retiredAt, verifyUntil: r.verifyUntil };
}

async function readKeyring(db: Database): Promise<ApiTokenKeyring> {
  const rows = await db.select().from(apiTokenKeys).orderBy(asc(apiTokenKeys.seq));
  const keys = rows.map(recordOf);
  return { keys, firstCreatedAt: keys.reduce<number | undefined>((min, k) => (min === undefined || k.createdAt < min ? k.createdAt : min), undefined) };
}

/** The key list, cached per isolate for a few seconds. */
export function apiTokenKeyring(db: Database, clock: Clock): Promise<ApiTokenKeyring> {
  const now = clock.now();
  if (cache !== undefined && cache.expires > now) return cache.ring;
  const ring = readKeyring(db);
  cache = { expires: now + API_TOKEN_KEYS_CACHE_MS, ring };
  ring.catch(() => {
    if (cache?.ring === ring) cache = undefined;
  });
  return ring;
}

/** The imported ES256 verification key for `kid`, imported once per isolate. */
export function verificationKey(k: ApiTokenKeyRecord): Promise<CryptoKey> {
  let key = imported.get(k.kid);
  if (key === undefined) {
    key = crypto.subtle.importKey("jwk", { ...k.publicJwk, ext: true }, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
    imported.set(k.kid, key);
    key.catch(() => imported.delete(k.kid));
  }
  return key;
}

async function insertKey(env: ControlEnv, db: Database, seq: number, now: number) {
  const pem = await generateJwtSigningKeyPem();
  const key = await importJwtSigningKey(pem);
  return {
    key,
    insert: db.insert(apiTokenKeys).values({ kid: key.kid, seq, status: "active", publicJwk: JSON.stringify(key.publicJwk), encryptedKey: await sealPrivateKey(pem, env.CA_KEK as string), createdAt: now }),
  };
}

/**
 * The active signing key, opened from D1 (read fresh: minting is rare, and a
 * stale key must not sign after a rotation). Makes the first key if there is none.
 */
export async function activeSigningKey(env: ControlEnv, db: Database, clock: Clock): Promise<{ kid: string; privateKey: CryptoKey }> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const [row] = await db.select().from(apiTokenKeys).where(eq(apiTokenKeys.status, "active"));
    if (row !== undefined) {
      const opened = await importJwtSigningKey(await openPrivateKey(row.encryptedKey, env.CA_KEK as string));
      return { kid: row.kid, privateKey: opened.privateKey };
    }
    const [last] = await db.select({ seq: max(apiTokenKeys.seq) }).from(apiTokenKeys);
    const { key, insert } = await insertKey(env, db, (last?.seq ?? 0) + 1, clock.now());
    try {
      await insert;
      invalidateApiTokenKeys();
      return { kid: key.kid, privateKey: key.privateKey };
    } catch (err) {
      // Another isolate made it first (seq is unique): use theirs.
      if (!isUniqueViolation(err)) throw err;
    }
  }
  throw new ConflictError("API token signing key: created concurrently; retry");
}

/**
 * Makes a new active API-token key. The previous active key is retired (it keeps
 * verifying until the last unrevoked token minted while it was active expires) or,
 * with `revokePrevious`, revoked: every token it signed is refused from now on.
 */
export async function rotateApiTokenKey(env: ControlEnv, db: Database, clock: Clock, o: { revokePrevious?: boolean } = {}) {
  const now = clock.now();
  const [current] = await db.select().from(apiTokenKeys).where(eq(apiTokenKeys.status, "active"));
  const [last] = await db.select({ seq: max(apiTokenKeys.seq) }).from(apiTokenKeys);
  let verifyUntil: number | null = null;
  if (current !== undefined && o.revokePrevious !== true) {
    const [latest] = await db
      .select({ at: max(apiTokens.expiresAt) })
      .from(apiTokens)
      .where(and(isNull(apiTokens.revokedAt), gte(apiTokens.createdAt, current.createdAt), lte(apiTokens.createdAt, now)));
    verifyUntil = Math.max(latest?.at ?? now, now);
  }
  const { key, insert } = await insertKey(env, db, (last?.seq ?? 0) + 1, now);
  const retire =
    current === undefined
      ? []
      : [
          db
            .update(apiTokenKeys)
            .set(o.revokePrevious === true ? { status: "revoked" as const, retiredAt: now, verifyUntil: null } : { status: "retired" as const, retiredAt: now, verifyUntil })
            .where(and(eq(apiTokenKeys.kid, current.kid), eq(apiTokenKeys.status, "active"))),
        ];
  try {
    await db.batch([insert, ...retire]);
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    throw new ConflictError("API token signing key: rotated concurrently; retry", { field: "body" });
  } finally {
    invalidateApiTokenKeys();
  }
  return {
    kid: key.kid,
    previous: current === undefined ? null : { kid: current.kid, status: o.revokePrevious === true ? ("revoked" as const) : ("retired" as const), verifyUntil: verifyUntil === null ? null : new Date(verifyUntil).toISOString() },
  };
}

/** The published verification keys (a JWK Set): active and still-verifying retired keys. */
export function apiTokenJwks(ring: ApiTokenKeyring, now: number) {
  return {
    keys: ring.keys
      .filter((k) => verifies(k, now))
      .map((k) => ({
        ...k.publicJwk,
        kid: k.kid,
        alg: "ES256",
        use: "sig",
        status: k.status,
        createdAt: new Date(k.createdAt).toISOString(),
        verifyUntil: k.verifyUntil === null ? null : new Date(k.verifyUntil).toISOString(),
      })),
  };
}
