import { deepFreeze } from "../../core/deep-freeze.ts";
import { inArray } from "drizzle-orm";
import { caGenerations } from "../../../schema/index.ts";
import type { Clock } from "../../core/clock.ts";
import { CaUnavailableError } from "../../identity/errors.ts";
import { caTrustDomain, loadSigningCa, verifyIssuedBy, type SigningCa } from "../../identity/ca.ts";
import { importJwtSigningKey, type JwtSigningKey } from "../../identity/jwt-key.ts";
import { openPrivateKey, sealPrivateKey } from "../../identity/key-encryption.ts";
import { buildSpiffeBundle, bundlePem, parseSpiffeBundle, type SpiffeBundleDocument, type TrustBundle, type TrustBundleSet } from "../../identity/bundle.ts";
import { parseCertificatePem, type x509 } from "../../identity/x509.ts";
import { bundleSequence, dueForPruning, publishedGenerations, signingGeneration, type CaGenerationState } from "../../identity/rotation.ts";
import type { ControlEnv } from "../env.ts";
import { database, type Database } from "../db.ts";
import { trustDomainOf } from "./settings.ts";

/** Seconds relying parties are told to wait between bundle refreshes. */
export const BUNDLE_REFRESH_HINT_SECONDS = 300;
/** How long an isolate reuses a loaded authority; rotation margins include it. */
export const AUTHORITY_CACHE_MS = 5000;

/** A row of `ca_generations` without its sealed keys. */
export interface GenerationRecord extends CaGenerationState {
  certificatePem: string;
  jwtKid: string;
  jwtPublicJwk: JsonWebKey;
  createdAt: number;
}

/** The issuer's CA state: every generation, plus the opened keys of the one that signs. */
export interface Authority {
  trustDomain: string;
  rootPem: string;
  generations: readonly GenerationRecord[];
  signing: { generation: GenerationRecord; ca: SigningCa; jwtKey: JwtSigningKey };
}

let cache: { key: string; expires: number; authority: Promise<Authority> } | undefined;

/** Drops the isolate's cached authority; call after writing `ca_generations`. */
export function invalidateAuthority(): void {
  cache = undefined;
}

function requireSecrets(env: ControlEnv, names: readonly (keyof ControlEnv)[]): void {
  const missing = names.filter((n) => typeof env[n] !== "string" || (env[n] as string).trim() === "");
  if (missing.length > 0) throw new CaUnavailableError(`CA unavailable: secret ${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} not set`);
}

/**
 * The current authority, loaded from D1 (and cached per isolate for a few seconds).
 * On first use generation 1 is imported from the CA_INTERMEDIATE_CERT /
 * CA_INTERMEDIATE_KEY / JWT_SIGNING_KEY secrets, after checking it chains to CA_ROOT_CERT.
 */
export function loadAuthority(env: ControlEnv, clock: Clock): Promise<Authority> {
  const now = clock.now();
  const key = `${env.TRUST_DOMAIN ?? ""}|${env.CA_ROOT_CERT ?? ""}`;
  if (cache !== undefined && cache.key === key && cache.expires > now) return cache.authority;
  const authority = readAuthority(env, clock);
  cache = { key, expires: now + AUTHORITY_CACHE_MS, authority };
  authority.catch(() => {
    if (cache?.authority === authority) cache = undefined;
  });
  return authority;
}

async function readAuthority(env: ControlEnv, clock: Clock): Promise<Authority> {
  const trustDomain = trustDomainOf(env);
  requireSecrets(env, ["CA_ROOT_CERT", "CA_KEK"]);
  const db = database(env);
  let rows = await db.select().from(caGenerations).orderBy(caGenerations.id);
  if (rows.length === 0) {
    await importFirstGeneration(env, db, clock, trustDomain);
    rows = await db.select().from(caGenerations).orderBy(caGenerations.id);
  }
  const generations: GenerationRecord[] = rows.map((r) => ({
    id: r.id,
    status: r.status,
    notAfter: r.notAfter,
    activatedAt: r.activatedAt,
    retiredAt: r.retiredAt,
    publishUntil: r.publishUntil,
    certificatePem: r.certificatePem,
    jwtKid: r.jwtKid,
    jwtPublicJwk: JSON.parse(r.jwtPublicJwk) as JsonWebKey,
    createdAt: r.createdAt,
  }));
  const now = clock.now();
  const prunable = dueForPruning(generations, now).map((g) => g.id);
  if (prunable.length > 0) await db.update(caGenerations).set({ status: "pruned" }).where(inArray(caGenerations.id, prunable));
  const current = signingGeneration(generations);
  const row = rows.find((r) => r.id === current?.id);
  if (current === undefined || row === undefined) throw new CaUnavailableError("CA unavailable: no active CA generation");
  if (current.notAfter <= now) throw new CaUnavailableError(`CA unavailable: active CA generation ${current.id} expired at ${new Date(current.notAfter).toISOString()}`);
  const rootPem = (env.CA_ROOT_CERT as string).trim() + "\n";
  const signing = await openSigningMaterial(env, row, current.id, rootPem);
  return {
    trustDomain,
    rootPem,
    generations: generations.map((g) => (prunable.includes(g.id) ? { ...g, status: "pruned" as const } : g)),
    signing: { generation: current, ...signing },
  };
}

type GenerationRow = typeof caGenerations.$inferSelect;
interface SigningMaterial {
  ca: SigningCa;
  jwtKey: JwtSigningKey;
}

/**
 * Opened keys per CA generation: the root check, two AES-GCM opens, the CA
 * load (parse, import, key-match signature) and the JWT key import run once per
 * generation (and root/KEK secret), not on every authority refresh.
 */
const signingMaterial = new Map<string, Promise<SigningMaterial>>();

function openSigningMaterial(env: ControlEnv, row: GenerationRow, id: number, rootPem: string): Promise<SigningMaterial> {
  const kek = env.CA_KEK as string;
  const key = [id, row.certificatePem, row.encryptedKey, row.encryptedJwtKey, rootPem, kek].join("\u0000");
  let opened = signingMaterial.get(key);
  if (opened === undefined) {
    opened = (async () => {
      // Checked once per generation and root secret, so a changed CA_ROOT_CERT is caught before it is published.
      if (!(await asUnavailable("CA_ROOT_CERT", () => verifyIssuedBy(row.certificatePem, rootPem)))) {
        throw new CaUnavailableError(`CA unavailable: active CA generation ${id} is not issued by CA_ROOT_CERT`);
      }
      const [caKeyPem, jwtKeyPem] = await asUnavailable("CA_KEK", () => Promise.all([openPrivateKey(row.encryptedKey, kek), openPrivateKey(row.encryptedJwtKey, kek)]));
      return { ca: await loadSigningCa({ certificatePem: row.certificatePem, privateKeyPem: caKeyPem }), jwtKey: await importJwtSigningKey(jwtKeyPem) };
    })();
    // One signing generation at a time; a rotation replaces the entry.
    signingMaterial.clear();
    signingMaterial.set(key, opened);
    opened.catch(() => {
      if (signingMaterial.get(key) === opened) signingMaterial.delete(key);
    });
  }
  return opened;
}

/** A broken secret is the operator's problem: 503 naming the secret, never a 4xx blaming the client. */
async function asUnavailable<T>(secret: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof CaUnavailableError) throw err;
    throw new CaUnavailableError(`CA unavailable: ${secret}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

async function importFirstGeneration(env: ControlEnv, db: Database, clock: Clock, trustDomain: string): Promise<void> {
  requireSecrets(env, ["CA_INTERMEDIATE_CERT", "CA_INTERMEDIATE_KEY", "JWT_SIGNING_KEY"]);
  const certificatePem = env.CA_INTERMEDIATE_CERT as string;
  if (!(await asUnavailable("CA_INTERMEDIATE_CERT/CA_ROOT_CERT", () => verifyIssuedBy(certificatePem, env.CA_ROOT_CERT as string)))) {
    throw new CaUnavailableError("CA unavailable: CA_INTERMEDIATE_CERT is not issued by CA_ROOT_CERT");
  }
  const privateKeyPem = env.CA_INTERMEDIATE_KEY as string;
  const ca = await asUnavailable("CA_INTERMEDIATE_CERT/CA_INTERMEDIATE_KEY", () => loadSigningCa({ certificatePem, privateKeyPem }));
  const caDomain = caTrustDomain(ca.certificate);
  if (caDomain !== undefined && caDomain !== trustDomain) {
    throw new CaUnavailableError(`CA unavailable: CA_INTERMEDIATE_CERT names trust domain ${caDomain}, but TRUST_DOMAIN is ${trustDomain}`);
  }
  const jwtKey = await asUnavailable("JWT_SIGNING_KEY", () => importJwtSigningKey(env.JWT_SIGNING_KEY as string));
  const kek = env.CA_KEK as string;
  const now = clock.now();
  // Two isolates may bootstrap at once; the fixed id makes the second insert a no-op.
  await db
    .insert(caGenerations)
    .values({
      id: 1,
      status: "active",
      certificatePem: ca.certificatePem,
      encryptedKey: await sealPrivateKey(privateKeyPem, kek),
      jwtKid: jwtKey.kid,
      jwtPublicJwk: JSON.stringify(jwtKey.publicJwk),
      encryptedJwtKey: await sealPrivateKey(env.JWT_SIGNING_KEY as string, kek),
      notAfter: ca.notAfter.getTime(),
      createdAt: now,
      activatedAt: now,
    })
    .onConflictDoNothing();
}

/**
 * Everything derived from the published generations, built once per bundle
 * content (root, published generations, sequence) and shared by every request:
 * the bundle document, its PEM, the verifier view (whose JWK objects key the
 * JWT-SVID validator's imported-key cache) and the parsed intermediates.
 */
export interface AuthorityViews {
  document: SpiffeBundleDocument;
  pem: string;
  trustBundle: TrustBundle;
  bundles: TrustBundleSet;
  /** Published intermediates, parsed, by generation id. */
  intermediates: ReadonlyArray<{ generation: number; certificate: x509.X509Certificate }>;
}

const VIEW_CACHE_SIZE = 4;
const views = new Map<string, AuthorityViews>();

export function authorityViews(a: Authority, now: number): AuthorityViews {
  const published = publishedGenerations(a.generations, now);
  const sequence = bundleSequence(a.generations, now);
  const key = [a.trustDomain, a.rootPem, sequence, ...published.map((g) => `${g.id}:${g.jwtKid}:${g.certificatePem}`)].join("\u0000");
  const cached = views.get(key);
  if (cached !== undefined) return cached;
  const document = deepFreeze(
    buildSpiffeBundle({
      x509AuthoritiesPem: [a.rootPem, ...published.map((g) => g.certificatePem)],
      jwtAuthorities: published.map((g) => ({ kid: g.jwtKid, publicJwk: g.jwtPublicJwk })),
      sequence,
      refreshHintSeconds: BUNDLE_REFRESH_HINT_SECONDS,
    }),
  );
  const trustBundle = parseSpiffeBundle(a.trustDomain, document);
  const built: AuthorityViews = {
    document,
    pem: bundlePem([a.rootPem, ...published.map((g) => g.certificatePem)]),
    trustBundle,
    bundles: new Map([[a.trustDomain, trustBundle]]),
    intermediates: published.map((g) => ({ generation: g.id, certificate: parseCertificatePem(g.certificatePem, `generation ${g.id}`) })),
  };
  if (views.size >= VIEW_CACHE_SIZE) views.delete(views.keys().next().value as string);
  views.set(key, built);
  return built;
}

/** The SPIFFE bundle at `now`: the root and every published intermediate (x509-svid), every published JWT key. */
export function bundleDocument(a: Authority, now: number): SpiffeBundleDocument {
  return authorityViews(a, now).document;
}

/** The X.509 authorities of the bundle at `now`, as PEM. */
export function authoritiesPem(a: Authority, now: number): string {
  return authorityViews(a, now).pem;
}

/** Our own trust domain's bundle in verifier form. */
export function ownTrustBundle(a: Authority, now: number): TrustBundle {
  return authorityViews(a, now).trustBundle;
}
