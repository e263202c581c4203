import { sql } from "drizzle-orm";
import type { Database } from "../db.ts";
import type { ControlEnv } from "../env.ts";
import { getControlSigner } from "../signer.ts";
import { snapshots } from "../../../schema/config.ts";
import { attestedNodes, revocations } from "../../../schema/identity.ts";
import { compileSnapshots } from "../../core/snapshot/compile-snapshots.ts";
import { canonicalJson } from "../../core/snapshot/canonical-json.ts";
import { contentHash } from "../../core/snapshot/content-hash.ts";
import { snapshotTarget, type Snapshot, type SnapshotEnvelope } from "../../core/snapshot/snapshot-model.ts";
import { asAnyResource } from "./resource-record.ts";
import { latestRevision, loadAllResources } from "./resource-queries.ts";

/** JWS `typ` of a signed snapshot. */
export const SNAPSHOT_JWS_TYP = "strait-snapshot+jws";

/** What KV holds under `snapshot:<target>`. */
export interface StoredSnapshot {
  target: string;
  version: number;
  hash: string;
  revision: number;
  /** Compact JWS whose payload is the canonical JSON of a SnapshotEnvelope. */
  jws: string;
}

export function snapshotKvKey(target: string): string {
  return `snapshot:${target}`;
}

export interface PublishReport {
  revision: number;
  published: { target: string; version: number; size: number }[];
  unchanged: string[];
}

// Publishes in one isolate run one after another, so KV never receives an
// older version after a newer one from the same isolate.
let queue: Promise<unknown> = Promise.resolve();

/**
 * Compiles the stored config into the gateway snapshot and one per node and
 * publishes each whose content hash changed: next version (per target, in
 * table `snapshots`, claimed with a guarded upsert so two publishers never
 * issue the same version), signed as a compact JWS by the control signer,
 * written to KV.
 */
export function publishSnapshots(env: ControlEnv, db: Database, now: number): Promise<PublishReport> {
  const run = queue.then(() => publishNow(env, db, now));
  queue = run.catch(() => undefined);
  return run;
}

async function publishNow(env: ControlEnv, db: Database, now: number): Promise<PublishReport> {
  const [stored, nodes, revoked, current, revision] = await Promise.all([
    loadAllResources(db),
    db.select({ cluster: attestedNodes.cluster, node: attestedNodes.node }).from(attestedNodes),
    db.select({ spiffeId: revocations.spiffeId, revokedAt: revocations.revokedAt }).from(revocations),
    db.select().from(snapshots),
    latestRevision(db),
  ]);
  const compiled = compileSnapshots({
    resources: stored.map(asAnyResource),
    nodes,
    revocations: revoked,
    trustDomain: env.TRUST_DOMAIN ?? "strait.local",
    rootNamespace: env.ROOT_NAMESPACE ?? "strait-system",
  });
  const targets: [string, Snapshot][] = [
    [snapshotTarget(), compiled.gateway],
    ...compiled.nodes.map((n): [string, Snapshot] => [snapshotTarget(n.node), n]),
  ];
  const previous = new Map(current.map((r) => [r.target, r]));
  const report: PublishReport = { revision, published: [], unchanged: [] };
  let signer: Awaited<ReturnType<typeof getControlSigner>> | undefined;
  for (const [target, snapshot] of targets) {
    const hash = await contentHash(snapshot);
    const prev = previous.get(target);
    if (prev !== undefined && prev.hash === hash) {
      report.unchanged.push(target);
      continue;
    }
    const version = (prev?.version ?? 0) + 1;
    const envelope: SnapshotEnvelope = { target, version, revision, hash, snapshot };
    const payload = new TextEncoder().encode(canonicalJson(envelope));
    signer ??= await getControlSigner(env);
    const jws = await signer.signJws(payload, SNAPSHOT_JWS_TYP);
    // Claim the version: only lands if nobody published this target since we read it.
    const claimed = await db.run(sql`INSERT INTO ${snapshots} (target, version, revision, hash, size, updated_at)
      VALUES (${target}, ${version}, ${revision}, ${hash}, ${payload.byteLength}, ${now})
      ON CONFLICT(target) DO UPDATE SET version = excluded.version, revision = excluded.revision, hash = excluded.hash,
        size = excluded.size, updated_at = excluded.updated_at
      WHERE snapshots.version = ${prev?.version ?? 0} AND snapshots.revision <= excluded.revision`);
    if ((claimed.meta?.changes ?? 0) !== 1) continue;
    const body: StoredSnapshot = { target, version, hash, revision, jws };
    await env.CONFIG.put(snapshotKvKey(target), JSON.stringify(body));
    report.published.push({ target, version, size: payload.byteLength });
  }
  return report;
}

/**
 * Runs a publish after a landed write. The write has already committed, so a
 * failure here (e.g. no CA configured yet) is logged, not returned to the writer;
 * the next landed change publishes again.
 */
export async function publishAfterWrite(env: ControlEnv, db: Database, now: number): Promise<PublishReport | undefined> {
  try {
    return await publishSnapshots(env, db, now);
  } catch (err) {
    console.error("snapshot publish failed", err instanceof Error ? err.message : String(err));
    return undefined;
  }
}
