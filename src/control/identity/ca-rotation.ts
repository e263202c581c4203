import { and, eq, gte, isNull, lt, max, min, sql } from "drizzle-orm";
import { apiTokenKeys, apiTokens, caGenerations, issuedSvids } from "../../../schema/index.ts";
import type { Clock } from "../../core/clock.ts";
import { ConflictError, ValidationError } from "../../core/errors.ts";
import { CaUnavailableError } from "../../identity/errors.ts";
import { caTrustDomain, loadSigningCa, verifyIssuedBy } from "../../identity/ca.ts";
import { generateJwtSigningKeyPem, importJwtSigningKey } from "../../identity/jwt-key.ts";
import { sealPrivateKey } from "../../identity/key-encryption.ts";
import { checkStageable, nextGenerationId, planActivation, publishedGenerations, signingGeneration, statusAt } from "../../identity/rotation.ts";
import { auditInsert } from "../audit.ts";
import { isUniqueViolation, type Database } from "../db.ts";
import type { ControlEnv } from "../env.ts";
import { AUTHORITY_CACHE_MS, BUNDLE_REFRESH_HINT_SECONDS, bundleDocument, invalidateAuthority, loadAuthority, type Authority, type GenerationRecord } from "./authority.ts";
import { maxSvidTtlSeconds } from "./settings.ts";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

function generationView(g: GenerationRecord, a: Authority, now: number) {
  return {
    generation: g.id,
    status: statusAt(g, now),
    signing: g.id === a.signing.generation.id,
    published: publishedGenerations(a.generations, now).some((p) => p.id === g.id),
    certificatePem: g.certificatePem,
    notAfter: new Date(g.notAfter).toISOString(),
    jwtKid: g.jwtKid,
    createdAt: new Date(g.createdAt).toISOString(),
    activatedAt: iso(g.activatedAt),
    retiredAt: iso(g.retiredAt),
    publishUntil: iso(g.publishUntil),
  };
}

/** Every CA generation and the bundle sequence, for `GET /v1/identity/ca`. */
export async function describeAuthority(env: ControlEnv, clock: Clock) {
  const a = await loadAuthority(env, clock);
  const now = clock.now();
  return { signingGeneration: a.signing.generation.id, sequence: bundleDocument(a, now).spiffe_sequence, generations: a.generations.map((g) => generationView(g, a, now)) };
}

/** Why `loadSigningCa` refused a staged pair, blamed on the field at fault. */
function stagingError(err: unknown): unknown {
  if (err instanceof CaUnavailableError) {
    const field = /private key/i.test(err.message) ? "privateKeyPem" : "certificatePem";
    return new ValidationError(`${field}: ${err.message}`, { field });
  }
  return err;
}

/**
 * Stages a new generation: an intermediate issued by CA_ROOT_CERT (a P-256 CA
 * whose key matches), plus a fresh JWT key. It is published at once and signs
 * nothing until activated.
 */
export async function stageGeneration(env: ControlEnv, db: Database, actor: string, pair: { certificatePem: string; privateKeyPem: string }, clock: Clock) {
  invalidateAuthority();
  const authority = await loadAuthority(env, clock);
  // PEM errors already name certificatePem / privateKeyPem; CA-shape problems are re-blamed below.
  const ca = await loadSigningCa(pair).catch((err: unknown) => {
    throw stagingError(err);
  });
  if (!(await verifyIssuedBy(ca.certificatePem, authority.rootPem))) {
    throw new ValidationError("certificatePem: not issued by the configured root (CA_ROOT_CERT)", { field: "certificatePem" });
  }
  // The root verifies as issued by itself: a self-issued certificate is the root (or another one), never an intermediate.
  if (ca.certificate.subject === ca.certificate.issuer) {
    throw new ValidationError("certificatePem: is self-issued (a root CA, e.g. CA_ROOT_CERT itself); stage an intermediate the root issued", { field: "certificatePem" });
  }
  const td = caTrustDomain(ca.certificate);
  if (td !== undefined && td !== authority.trustDomain) {
    throw new ValidationError(`certificatePem: names trust domain ${td}, expected ${authority.trustDomain}`, { field: "certificatePem" });
  }
  const now = clock.now();
  checkStageable({ notAfter: ca.notAfter.getTime() }, now);
  if (authority.generations.some((g) => g.certificatePem === ca.certificatePem)) {
    throw new ConflictError("certificatePem: this intermediate is already a CA generation", { field: "certificatePem" });
  }
  const kek = env.CA_KEK as string;
  const jwtKeyPem = await generateJwtSigningKeyPem();
  const jwtKey = await importJwtSigningKey(jwtKeyPem);
  const id = nextGenerationId(authority.generations);
  try {
    await db.batch([
      db.insert(caGenerations).values({
        id,
        status: "staged",
        certificatePem: ca.certificatePem,
        encryptedKey: await sealPrivateKey(pair.privateKeyPem, kek),
        jwtKid: jwtKey.kid,
        jwtPublicJwk: JSON.stringify(jwtKey.publicJwk),
        encryptedJwtKey: await sealPrivateKey(jwtKeyPem, kek),
        notAfter: ca.notAfter.getTime(),
        createdAt: now,
      }),
      auditInsert(db, { actor, action: "identity.ca.stage", target: `generation:${id}`, outcome: "success", detail: { notAfter: ca.notAfter.toISOString(), jwtKid: jwtKey.kid } }, now),
    ]);
  } catch (err) {
    // The id is a primary key: a concurrent stage took it.
    if (!isUniqueViolation(err)) throw err;
    throw new ConflictError("generation: another CA generation was staged at the same time; retry", { field: "generation" });
  } finally {
    invalidateAuthority();
  }
  return { generation: id, status: "staged" as const, notAfter: ca.notAfter.toISOString(), jwtKid: jwtKey.kid };
}

/**
 * Latest expiry of anything generation `g` signed: X.509-SVIDs recorded, and legacy
 * API tokens (minted with its JWT key before API tokens got their own key). Tokens
 * signed by the API-token key never hold a generation back.
 */
async function lastSignedExpiry(db: Database, g: GenerationRecord): Promise<number | null> {
  const [svids] = await db.select({ at: max(issuedSvids.notAfter) }).from(issuedSvids).where(eq(issuedSvids.caGeneration, g.id));
  const [firstKey] = await db.select({ at: min(apiTokenKeys.createdAt) }).from(apiTokenKeys);
  const legacyUntil = firstKey?.at ?? null;
  const [tokens] = await db
    .select({ at: max(apiTokens.expiresAt) })
    .from(apiTokens)
    .where(and(isNull(apiTokens.revokedAt), gte(apiTokens.createdAt, g.activatedAt ?? 0), ...(legacyUntil === null ? [] : [lt(apiTokens.createdAt, legacyUntil)])));
  const values = [svids?.at, tokens?.at].filter((v): v is number => typeof v === "number");
  return values.length === 0 ? null : Math.max(...values);
}

/**
 * How long a staged generation is published before it may sign (checklist 97:
 * 3-5x the refresh hint), so relying parties that refresh on the hint hold it first.
 */
export const MIN_STAGED_MS = 3 * BUNDLE_REFRESH_HINT_SECONDS * 1000 + AUTHORITY_CACHE_MS;

/**
 * Switches signing to staged generation `id`. The previous generation is
 * retired and stays published until everything it signed has expired.
 * Refused (409) while `id` has been published for less than MIN_STAGED_MS,
 * unless `force` (e.g. the old key is compromised).
 */
export async function activateGeneration(env: ControlEnv, db: Database, actor: string, id: number, clock: Clock, o: { force?: boolean } = {}) {
  invalidateAuthority();
  const authority = await loadAuthority(env, clock);
  const now = clock.now();
  const target = authority.generations.find((g) => g.id === id);
  if (target !== undefined && target.status === "staged" && o.force !== true && now < target.createdAt + MIN_STAGED_MS) {
    const ready = new Date(target.createdAt + MIN_STAGED_MS).toISOString();
    throw new ConflictError(
      `generation: CA generation ${id} was staged at ${new Date(target.createdAt).toISOString()}; relying parties refresh the bundle every ${BUNDLE_REFRESH_HINT_SECONDS} s, so it can be activated from ${ready} (or send "force": true)`,
      { field: "generation" },
    );
  }
  const current = signingGeneration(authority.generations);
  const plan = planActivation(authority.generations, id, now, {
    lastSignedExpiry: current === undefined ? null : await lastSignedExpiry(db, current),
    minPublishMs: maxSvidTtlSeconds(env) * 1000 + AUTHORITY_CACHE_MS,
  });
  const retire = plan.retire;
  // Guarded updates: if a concurrent activation moved either row first, neither changes.
  const statements = [
    db
      .update(caGenerations)
      .set({ status: "active", activatedAt: plan.activate.activatedAt })
      .where(
        and(
          eq(caGenerations.id, id),
          eq(caGenerations.status, "staged"),
          retire === undefined
            ? sql`not exists (select 1 from ca_generations where status = 'active')`
            : sql`exists (select 1 from ca_generations where id = ${retire.id} and status = 'active')`,
        ),
      ),
    ...(retire === undefined
      ? []
      : [
          db
            .update(caGenerations)
            .set({ status: "retired", retiredAt: retire.retiredAt, publishUntil: retire.publishUntil })
            .where(and(eq(caGenerations.id, retire.id), eq(caGenerations.status, "active"), sql`exists (select 1 from ca_generations where id = ${id} and status = 'active')`)),
        ]),
  ] as const;
  const [activated] = await db.batch(statements);
  invalidateAuthority();
  if (activated.meta.changes !== 1) throw new ConflictError(`generation: CA generation ${id} could not be activated (changed concurrently); retry`, { field: "generation" });
  await db.batch([
    auditInsert(
      db,
      { actor, action: "identity.ca.activate", target: `generation:${id}`, outcome: "success", detail: { retired: retire?.id ?? null, publishUntil: retire === undefined ? null : iso(retire.publishUntil), forced: o.force === true } },
      now,
    ),
  ]);
  return { generation: id, status: "active" as const, retired: retire === undefined ? null : { generation: retire.id, publishUntil: iso(retire.publishUntil) } };
}
