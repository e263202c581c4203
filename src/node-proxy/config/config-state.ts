/**
 * ConfigState: one verified node snapshot behind one reference. A candidate is turned
 * into a view (indexes built once), every preparer runs on it (compiled routes,
 * policy engines: the data plane's conversion, off the hot path), and only then is it
 * swapped in whole. A candidate a preparer refuses never goes live; the last good
 * view stays.
 */
import type { Clock } from "../../core/clock.ts";
import type { VerifiedSnapshot } from "../../core/snapshot/snapshot-reader.ts";
import type { NodeSnapshot, NodeWorkload, Service } from "../../core/snapshot/snapshot-model.ts";
import type { ConfigPreparer, ConfigState, ConfigView, ProxyLogger } from "../context.ts";

/** A snapshot a preparer refused. */
export class ConfigRejectedError extends Error {
  readonly code = "ERR_CONFIG_REJECTED";
}

export function buildView(verified: VerifiedSnapshot<NodeSnapshot>, origin: ConfigView["origin"], appliedAt: number): ConfigView {
  const s = verified.snapshot;
  const byAddress = new Map<string, NodeWorkload>();
  const byName = new Map<string, NodeWorkload>();
  for (const w of s.workloads ?? []) {
    if (w.address !== undefined) byAddress.set(w.address, w);
    byName.set(`${w.namespace}/${w.name}`, w);
  }
  const services = new Map<string, Service>();
  for (const svc of [...(s.outbound ?? []), ...(s.inbound ?? [])]) services.set(svc.host, svc);
  const derived = new Map<string, unknown>();
  const view: ConfigView = {
    version: verified.version,
    revision: verified.revision,
    hash: verified.hash,
    snapshot: s,
    appliedAt,
    origin,
    workloadsByAddress: byAddress,
    workloadsByName: byName,
    servicesByHost: services,
    revoked: new Set((s.revocations ?? []).map((r) => r.spiffeId)),
    derive<T>(key: string, build: (v: ConfigView) => T): T {
      if (!derived.has(key)) derived.set(key, build(view));
      return derived.get(key) as T;
    },
  };
  return view;
}

export class ConfigStateStore implements ConfigState {
  private view: ConfigView | undefined;
  private readonly listeners = new Set<(next: ConfigView, previous: ConfigView | undefined) => void>();
  private readonly preparers: ConfigPreparer[] = [];
  /** The last refusal, for /config_dump. */
  lastRejection: { version: number; message: string; at: number } | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly logger: ProxyLogger,
  ) {}

  current(): ConfigView | undefined {
    return this.view;
  }

  onSwap(listener: (next: ConfigView, previous: ConfigView | undefined) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async addPreparer(prepare: ConfigPreparer): Promise<void> {
    this.preparers.push(prepare);
    if (this.view !== undefined) await prepare(this.view);
  }

  /**
   * Prepares and swaps in a verified snapshot.
   * @throws ConfigRejectedError when a preparer refuses it (the current view stays).
   */
  async swap(verified: VerifiedSnapshot<NodeSnapshot>, origin: ConfigView["origin"]): Promise<ConfigView> {
    const candidate = buildView(verified, origin, this.clock.now());
    for (const prepare of this.preparers) {
      try {
        await prepare(candidate);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        this.lastRejection = { version: verified.version, message, at: this.clock.now() };
        throw new ConfigRejectedError(`snapshot version ${verified.version} refused: ${message}`, { cause: err });
      }
    }
    const previous = this.view;
    this.view = candidate;
    for (const l of this.listeners) {
      try {
        l(candidate, previous);
      } catch (err) {
        this.logger.error("config swap listener failed", { error: err instanceof Error ? err.message : String(err) });
      }
    }
    return candidate;
  }
}
