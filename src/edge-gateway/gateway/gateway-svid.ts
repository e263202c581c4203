/**
 * The gateway's JWT-SVID (`spiffe://<td>/edge/gateway`) for in-cluster upstreams: one token per
 * node proxy (audience = the node proxy's SPIFFE ID), minted by the control plane and cached
 * until shortly before it expires.
 */
import type { Clock } from "../../core/clock.ts";

/** Header that carries the gateway's JWT-SVID to a node proxy's edge-ingress listener. */
export const EDGE_SVID_HEADER = "x-strait-edge-svid";
/** Header naming the workload (`<address>:<port>`) the node proxy delivers the request to. */
export const EDGE_TARGET_HEADER = "x-strait-edge-target";

export interface MintedSvid {
  token: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

/** Mints a JWT-SVID for one audience (the control plane, over a service binding or API). */
export type SvidMinter = (audience: string) => Promise<MintedSvid>;

export interface GatewaySvidSource {
  /** A JWT-SVID with `aud` = `audience`, valid for at least the refresh margin. */
  tokenFor(audience: string): Promise<string>;
}

/** Fraction of a token's life after which it is replaced (half-life, as for every SVID). */
const REFRESH_AT_FRACTION = 0.5;

/**
 * Caches one token per audience; concurrent requests for the same audience share one mint.
 * A token is reused until half its lifetime has passed (it stays valid well past that).
 */
export class CachedGatewaySvids implements GatewaySvidSource {
  private readonly cache = new Map<string, { token: string; refreshAt: number; expiresAt: number }>();
  private readonly pending = new Map<string, Promise<string>>();

  constructor(private readonly mint: SvidMinter, private readonly clock: Clock) {}

  tokenFor(audience: string): Promise<string> {
    const now = this.clock.now();
    const hit = this.cache.get(audience);
    if (hit !== undefined && now < hit.refreshAt) return Promise.resolve(hit.token);
    const inflight = this.pending.get(audience);
    if (inflight !== undefined) return inflight;
    const p = this.mint(audience)
      .then((m) => {
        const issued = this.clock.now();
        this.cache.set(audience, { token: m.token, expiresAt: m.expiresAt, refreshAt: issued + (m.expiresAt - issued) * REFRESH_AT_FRACTION });
        return m.token;
      })
      .catch((err: unknown) => {
        // Still-valid cached token: keep serving it while the control plane is unreachable.
        if (hit !== undefined && this.clock.now() < hit.expiresAt - 5_000) return hit.token;
        throw err;
      })
      .finally(() => this.pending.delete(audience));
    this.pending.set(audience, p);
    return p;
  }
}
