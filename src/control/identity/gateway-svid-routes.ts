/**
 * The edge gateway's JWT-SVID (`spiffe://<td>/edge/gateway`), minted for one node proxy at a time.
 *
 * Reachable ONLY over a Workers service binding, as an RPC method of a named entrypoint
 * (`GatewaySvidEntrypoint`), never as an HTTP route: the control worker's public `fetch` handler
 * (the Hono app) has no path that reaches it, and RPC calls cannot be made from the internet. A
 * header "marker" on an HTTP route would be one secret away from being forged; an entrypoint that
 * has no URL cannot be. The gateway worker binds it in wrangler.toml:
 *
 *   [[services]]
 *   binding = "CONTROL_IDENTITY"
 *   service = "strait-control"
 *   entrypoint = "GatewaySvidEntrypoint"
 *
 * The audience must be a node proxy's SPIFFE ID of our own trust domain
 * (`spiffe://<td>/node/<cluster>/<node>`), so this capability cannot mint a token for the control
 * API or for a workload.
 */
import { WorkerEntrypoint } from "cloudflare:workers";
import { systemClock } from "../../core/clock.ts";
import { ValidationError } from "../../core/errors.ts";
import { mintJwtSvid } from "../../identity/jwt-svid.ts";
import { SpiffeId, parseNodeId } from "../../identity/spiffe-id.ts";
import type { ControlEnv } from "../env.ts";
import { database } from "../db.ts";
import { bundleDocument, loadAuthority } from "./authority.ts";
import type { SpiffeBundleDocument } from "../../identity/bundle.ts";
import { extendPublication } from "./issuer.ts";
import { jwtSvidTtlSeconds, trustDomainOf } from "./settings.ts";

/** Path of the gateway's SPIFFE ID. */
export const GATEWAY_SVID_PATH = "/edge/gateway";

/** What the RPC method returns. */
export interface GatewaySvid {
  token: string;
  /** SPIFFE ID of the gateway (`sub`). */
  spiffeId: string;
  audience: string;
  /** Expiry, milliseconds since the epoch. */
  expiresAt: number;
}

/** Mints the gateway's JWT-SVID for `audience` (a node proxy's SPIFFE ID). */
export async function mintGatewaySvid(env: ControlEnv, audience: string): Promise<GatewaySvid> {
  const trustDomain = trustDomainOf(env);
  let aud: SpiffeId;
  try {
    aud = SpiffeId.parse(audience);
  } catch (cause) {
    throw new ValidationError(`audience: must be a node proxy's SPIFFE ID, got ${JSON.stringify(String(audience).slice(0, 200))}`, { field: "audience", cause });
  }
  if (!aud.isMemberOf(trustDomain) || parseNodeId(aud) === undefined) {
    throw new ValidationError(`audience: must be spiffe://${trustDomain}/node/<cluster>/<node>, got ${aud.toString()}`, { field: "audience" });
  }
  const authority = await loadAuthority(env, systemClock);
  const spiffeId = SpiffeId.parse(`spiffe://${trustDomain}${GATEWAY_SVID_PATH}`);
  const minted = await mintJwtSvid({
    spiffeId,
    audience: [aud.toString()],
    key: authority.signing.jwtKey,
    clock: systemClock,
    ttlSeconds: jwtSvidTtlSeconds(env),
    trustDomain,
  });
  // A retired signing generation stays in the bundle until every token it signed has expired.
  await extendPublication(database(env), authority.signing.generation.id, minted.expiresAt.getTime());
  return { token: minted.token, spiffeId: spiffeId.toString(), audience: aud.toString(), expiresAt: minted.expiresAt.getTime() };
}

/**
 * RPC entrypoint for the gateway's service binding. Errors cross the binding as plain `Error`s
 * whose message names the field; the gateway treats any failure as "no credential" (503 UF).
 */
export class GatewaySvidEntrypoint extends WorkerEntrypoint<ControlEnv> {
  async mintGatewaySvid(audience: string): Promise<GatewaySvid> {
    return mintGatewaySvid(this.env, audience);
  }

  /** Our trust domain's SPIFFE bundle as JSON (the keys the gateway verifies signed snapshots with). */
  async trustBundle(): Promise<{ trustDomain: string; bundleJson: string }> {
    const authority = await loadAuthority(this.env, systemClock);
    const bundle: SpiffeBundleDocument = bundleDocument(authority, systemClock.now());
    return { trustDomain: authority.trustDomain, bundleJson: JSON.stringify(bundle) };
  }
}
