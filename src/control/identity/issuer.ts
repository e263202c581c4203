import { and, eq, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { caGenerations, issuedSvids } from "../../../schema/index.ts";
import type { Clock } from "../../core/clock.ts";
import type { ParsedCsr } from "../../identity/csr.ts";
import type { SpiffeId } from "../../identity/spiffe-id.ts";
import { issueX509Svid, type IssuedX509Svid } from "../../identity/x509-svid.ts";
import { mintJwtSvid } from "../../identity/jwt-svid.ts";
import type { SpiffeBundleDocument } from "../../identity/bundle.ts";
import type { Database } from "../db.ts";
import type { ControlEnv } from "../env.ts";
import { authoritiesPem, bundleDocument, type Authority } from "./authority.ts";
import { CONTROL_AUDIENCE, jwtSvidTtlSeconds, x509SvidTtlSeconds } from "./settings.ts";

/** An X.509-SVID as the API returns it. */
export interface X509SvidView {
  spiffeId: string;
  certificatePem: string;
  chainPem: string;
  serial: string;
  notAfter: string;
}

/** What attestation and renewal return to a node. */
export interface NodeCredentials {
  spiffeId: string;
  x509Svid: Omit<X509SvidView, "spiffeId">;
  jwtSvid: { token: string; audience: string[]; expiresAt: string };
  bundle: SpiffeBundleDocument;
  bundlePem: string;
}

export function x509SvidView(svid: IssuedX509Svid): X509SvidView {
  return { spiffeId: svid.spiffeId, certificatePem: svid.certificatePem, chainPem: svid.chainPem, serial: svid.serial, notAfter: svid.notAfter.toISOString() };
}

/** Signs an X.509-SVID for `spiffeId` with the active generation. */
export function signX509Svid(env: ControlEnv, authority: Authority, csr: ParsedCsr, spiffeId: SpiffeId, clock: Clock): Promise<IssuedX509Svid> {
  return issueX509Svid({ csr, spiffeId, ca: authority.signing.ca, clock, ttlSeconds: x509SvidTtlSeconds(env) });
}

/**
 * Statements recording an issued X.509-SVID: the `issued_svids` row, and, if
 * the signing generation was retired meanwhile (another isolate's cache was
 * stale), a later `publish_until` so its CA stays in the bundle long enough.
 */
export function recordIssued(db: Database, authority: Authority, svid: IssuedX509Svid, node: string, now: number): BatchItem<"sqlite">[] {
  const generation = authority.signing.generation.id;
  return [
    db.insert(issuedSvids).values({
      serial: svid.serial,
      spiffeId: svid.spiffeId,
      notBefore: svid.notBefore.getTime(),
      notAfter: svid.notAfter.getTime(),
      node,
      caGeneration: generation,
      issuedAt: now,
    }),
    extendPublication(db, generation, svid.notAfter.getTime()),
  ];
}

/** Keeps a retired generation published at least until `expiry`; a no-op unless it is retired. */
export function extendPublication(db: Database, generation: number, expiry: number): BatchItem<"sqlite"> {
  return db
    .update(caGenerations)
    .set({ publishUntil: sql`max(coalesce(${caGenerations.publishUntil}, 0), ${expiry})` })
    .where(and(eq(caGenerations.id, generation), eq(caGenerations.status, "retired")));
}

/**
 * A node's credentials: an X.509-SVID for its node ID, a JWT-SVID for the
 * control API, and the current bundle. The caller writes `statements` (with its
 * own node and audit rows) in one batch.
 */
export async function issueNodeCredentials(
  env: ControlEnv,
  db: Database,
  authority: Authority,
  csr: ParsedCsr,
  id: SpiffeId,
  clock: Clock,
): Promise<{ credentials: NodeCredentials; svid: IssuedX509Svid; statements: BatchItem<"sqlite">[] }> {
  const now = clock.now();
  const svid = await signX509Svid(env, authority, csr, id, clock);
  const jwt = await mintJwtSvid({ spiffeId: id, audience: [CONTROL_AUDIENCE], key: authority.signing.jwtKey, clock, ttlSeconds: jwtSvidTtlSeconds(env) });
  const { spiffeId: _id, ...x509Svid } = x509SvidView(svid);
  return {
    svid,
    credentials: {
      spiffeId: id.toString(),
      x509Svid,
      jwtSvid: { token: jwt.token, audience: [CONTROL_AUDIENCE], expiresAt: jwt.expiresAt.toISOString() },
      bundle: bundleDocument(authority, now),
      bundlePem: authoritiesPem(authority, now),
    },
    statements: [...recordIssued(db, authority, svid, id.toString(), now), extendPublication(db, authority.signing.generation.id, jwt.expiresAt.getTime())],
  };
}
