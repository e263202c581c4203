/**
 * Passive health checking per cluster, after Envoy's outlier detection as Istio configures it
 * (DestinationRule `outlierDetection`): an endpoint is ejected after `consecutive5xxErrors`
 * 5xx answers (or `consecutiveGatewayErrors` 502/503/504/connect failures) in a row, for
 * `baseEjectionTime × ejections so far` (capped at 300 s, Envoy's max_ejection_time), provided no
 * more than `maxEjectionPercent` of the cluster would be ejected (Envoy: `100 × (ejected + 1) / hosts`).
 * The ejection count decays by one for every `interval` an endpoint spends healthy.
 *
 * Unlike Envoy, which un-ejects on its interval timer, an endpoint comes back exactly when its
 * ejection time has passed (checked lazily on each pick); no timers run.
 */
import type { OutlierDetection } from "../../core/config/kinds/destination-rule.ts";
import { parseDurationMs } from "../../core/config/duration.ts";
import type { Clock } from "../../core/clock.ts";

/** Envoy's default `max_ejection_time`. */
export const MAX_EJECTION_MS = 300_000;

export interface OutlierSettings {
  consecutive5xx: number;
  consecutiveGateway: number;
  intervalMs: number;
  baseEjectionMs: number;
  maxEjectionPercent: number;
}

/** Istio's defaults for a present `outlierDetection` (istio-semantics §2.11). */
export function outlierSettings(od: OutlierDetection): OutlierSettings {
  const ms = (v: string | undefined, dflt: number) => (v === undefined ? dflt : parseDurationMs(v) ?? dflt);
  return {
    consecutive5xx: od.consecutive5xxErrors ?? 5,
    consecutiveGateway: od.consecutiveGatewayErrors ?? 0,
    intervalMs: ms(od.interval, 10_000),
    baseEjectionMs: ms(od.baseEjectionTime, 30_000),
    maxEjectionPercent: od.maxEjectionPercent ?? 10,
  };
}

/** What one upstream try produced, as outlier detection counts it. */
export type UpstreamResult = { kind: "status"; status: number } | { kind: "connect-failure" } | { kind: "reset" };

interface HostState {
  consecutive5xx: number;
  consecutiveGateway: number;
  ejections: number;
  ejectedUntil: number;
  /** When it was last returned (or first seen), for the decay of `ejections`. */
  healthySince: number;
}

export interface EjectionEvent {
  endpoint: string;
  ejectedForMs: number;
  reason: "consecutive_5xx" | "consecutive_gateway_failure";
}

export class OutlierDetector {
  private readonly hosts = new Map<string, HostState>();

  constructor(
    readonly settings: OutlierSettings,
    private readonly clock: Clock,
    private readonly onEject?: (e: EjectionEvent) => void,
  ) {}

  private state(key: string): HostState {
    let s = this.hosts.get(key);
    if (s === undefined) {
      s = { consecutive5xx: 0, consecutiveGateway: 0, ejections: 0, ejectedUntil: 0, healthySince: this.clock.now() };
      this.hosts.set(key, s);
    }
    return s;
  }

  /** True while `key` (`address:port`) is ejected. */
  isEjected(key: string, now = this.clock.now()): boolean {
    const s = this.hosts.get(key);
    if (s === undefined || s.ejectedUntil === 0) return false;
    if (now < s.ejectedUntil) return true;
    s.ejectedUntil = 0;
    s.healthySince = now;
    return false;
  }

  /** Keys of `candidates` that are not ejected. */
  healthy<T>(candidates: readonly T[], keyOf: (c: T) => string): T[] {
    const now = this.clock.now();
    return candidates.filter((c) => !this.isEjected(keyOf(c), now));
  }

  /** Records one result for `key`; `hostCount` is the cluster's size for the max-ejection check. */
  record(key: string, result: UpstreamResult, hostCount: number): void {
    const s = this.state(key);
    const now = this.clock.now();
    const isGateway =
      result.kind !== "status" || result.status === 502 || result.status === 503 || result.status === 504;
    const is5xx = result.kind !== "status" || result.status >= 500;
    if (!is5xx) {
      s.consecutive5xx = 0;
      s.consecutiveGateway = 0;
      return;
    }
    s.consecutive5xx++;
    if (isGateway) s.consecutiveGateway++;
    else s.consecutiveGateway = 0;
    if (this.isEjected(key, now)) return;
    const cfg = this.settings;
    let reason: EjectionEvent["reason"] | undefined;
    if (cfg.consecutive5xx > 0 && s.consecutive5xx >= cfg.consecutive5xx) reason = "consecutive_5xx";
    else if (cfg.consecutiveGateway > 0 && s.consecutiveGateway >= cfg.consecutiveGateway) reason = "consecutive_gateway_failure";
    if (reason === undefined) return;
    let active = 0;
    for (const [k, h] of this.hosts) if (k !== key && h.ejectedUntil > now) active++;
    if ((100 * (active + 1)) / Math.max(hostCount, 1) > cfg.maxEjectionPercent) return;
    // Decay: one ejection forgiven per healthy interval since the last return.
    const decay = cfg.intervalMs > 0 ? Math.floor((now - s.healthySince) / cfg.intervalMs) : 0;
    s.ejections = Math.max(0, s.ejections - decay) + 1;
    const forMs = Math.min(cfg.baseEjectionMs * s.ejections, Math.max(MAX_EJECTION_MS, cfg.baseEjectionMs));
    s.ejectedUntil = now + forMs;
    s.consecutive5xx = 0;
    s.consecutiveGateway = 0;
    this.onEject?.({ endpoint: key, ejectedForMs: forMs, reason });
  }

  /** For /config_dump: ejected endpoints and when they return. */
  snapshot(): { endpoint: string; ejectedUntil: number; ejections: number }[] {
    const now = this.clock.now();
    return [...this.hosts].filter(([k]) => this.isEjected(k, now)).map(([k, s]) => ({ endpoint: k, ejectedUntil: s.ejectedUntil, ejections: s.ejections }));
  }
}
