/**
 * CA generation lifecycle, modelled on SPIRE's prepare -> activate -> old:
 *
 *   staged  --activate-->  active  --(next activated)-->  retired  --(publishUntil passed)-->  pruned
 *
 * - staged: published in the trust bundle, signs nothing (so relying parties learn it first).
 * - active: the single generation that signs X.509-SVIDs and JWTs; published.
 * - retired: signs nothing; published until `publishUntil`, the latest expiry of anything it signed.
 * - pruned: gone from the bundle for good.
 *
 * Pure: no storage, no clock reads. Times are milliseconds since the epoch.
 */
import { ConflictError, NotFoundError } from "../core/errors.ts";

export type CaGenerationStatus = "staged" | "active" | "retired" | "pruned";

/** What the state machine needs to know about a generation. */
export interface CaGenerationState {
  readonly id: number;
  readonly status: CaGenerationStatus;
  /** The intermediate certificate's notAfter. */
  readonly notAfter: number;
  readonly activatedAt: number | null;
  readonly retiredAt: number | null;
  readonly publishUntil: number | null;
}

/**
 * The status of `g` at `now`, which can be further along than the stored one:
 * a retired generation past its `publishUntil`, or a staged one whose certificate
 * expired before it was ever activated, is pruned.
 */
export function statusAt(g: CaGenerationState, now: number): CaGenerationStatus {
  if (g.status === "retired" && (g.publishUntil === null || g.publishUntil <= now)) return "pruned";
  if (g.status === "staged" && g.notAfter <= now) return "pruned";
  return g.status;
}

/** The generation that signs, if any. */
export function signingGeneration<G extends CaGenerationState>(gens: readonly G[]): G | undefined {
  return gens.find((g) => g.status === "active");
}

/** Generations whose keys belong in the trust bundle at `now` (staged, active, retired-but-needed), oldest first. */
export function publishedGenerations<G extends CaGenerationState>(gens: readonly G[], now: number): G[] {
  return gens.filter((g) => statusAt(g, now) !== "pruned").sort((a, b) => a.id - b.id);
}

/** Stored rows that have become pruned by time; persist this so listings agree with the bundle. */
export function dueForPruning<G extends CaGenerationState>(gens: readonly G[], now: number): G[] {
  return gens.filter((g) => g.status !== "pruned" && statusAt(g, now) === "pruned");
}

/**
 * `spiffe_sequence` for the bundle at `now`. The bundle's content changes exactly
 * when a generation is added (staging) or leaves (pruning), so counting both
 * gives a number that only grows and moves on every content change, without a
 * counter that could drift from the rows it describes.
 */
export function bundleSequence(gens: readonly CaGenerationState[], now: number): number {
  return gens.length + gens.filter((g) => statusAt(g, now) === "pruned").length;
}

/** Id for the next generation. */
export function nextGenerationId(gens: readonly CaGenerationState[]): number {
  return gens.reduce((max, g) => Math.max(max, g.id), 0) + 1;
}

/** Refuses to stage a certificate that is already expired. */
export function checkStageable(candidate: { notAfter: number }, now: number): void {
  if (candidate.notAfter <= now) throw new ConflictError("certificatePem: the intermediate has already expired", { field: "certificatePem" });
}

export interface ActivationPlan {
  activate: { id: number; activatedAt: number };
  /** The generation that stops signing, with how long it must stay published. */
  retire: { id: number; retiredAt: number; publishUntil: number } | undefined;
}

/**
 * Plans switching signing to staged generation `id` at `now`.
 *
 * The outgoing generation's `publishUntil` is the later of `lastSignedExpiry`
 * (the latest notAfter/exp of anything it signed) and `now + minPublishMs`
 * (the longest TTL anything could still be signed with, plus cache lag).
 */
export function planActivation(
  gens: readonly CaGenerationState[],
  id: number,
  now: number,
  o: { lastSignedExpiry: number | null; minPublishMs: number },
): ActivationPlan {
  const target = gens.find((g) => g.id === id);
  if (target === undefined) throw new NotFoundError(`generation: CA generation ${id} does not exist`, { field: "generation" });
  const status = statusAt(target, now);
  if (status !== "staged") throw new ConflictError(`generation: CA generation ${id} is ${status}; only a staged generation can be activated`, { field: "generation" });
  const current = signingGeneration(gens);
  return {
    activate: { id, activatedAt: now },
    retire:
      current === undefined
        ? undefined
        : { id: current.id, retiredAt: now, publishUntil: Math.max(o.lastSignedExpiry ?? 0, now + o.minPublishMs) },
  };
}

/**
 * New `publishUntil` for a generation that just signed something expiring at
 * `expiry` (a signer with a stale cache may sign after retirement); `null` if
 * nothing changes.
 */
export function extendedPublishUntil(g: CaGenerationState, expiry: number): number | null {
  if (g.status !== "retired") return null;
  return g.publishUntil === null || expiry > g.publishUntil ? expiry : null;
}
