/**
 * The edge-ingress listener (15443): requests the edge gateway forwards to a workload of this
 * node. Each carries the gateway's JWT-SVID in `x-strait-edge-svid` (the edge gateway's header,
 * src/edge-gateway/gateway/gateway-svid.ts; the end user's own `Authorization` passes untouched), with subject `spiffe://<td>/edge/gateway` and audience this
 * node proxy's own SPIFFE ID (`spiffe://<td>/node/<cluster>/<node>`), validated against the trust
 * bundle's JWT authorities. Anything else is 401. The destination is the service the Host names
 * (a local endpoint of it), or the endpoint the gateway picked, in `x-strait-edge-target: address:port`.
 * The token and that header are removed before the request reaches the workload; authorization
 * then runs with the gateway as the source principal.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { JwtSvidCache } from "../../identity/jwt-svid-cache.ts";
import type { TrustBundle, TrustBundleSet } from "../../identity/bundle.ts";
import type { DataPlaneContext } from "../context.ts";
import { local } from "../outbound/http-outbound.ts";
import type { InboundHttp } from "./inbound-http.ts";
import { targetForHost } from "./plaintext-inbound.ts";

export const EDGE_SVID_HEADER = "x-strait-edge-svid";
export const EDGE_TARGET_HEADER = "x-strait-edge-target";

/** The edge gateway's SPIFFE ID in trust domain `td`. */
export function edgeGatewayId(td: string): string {
  return `spiffe://${td}/edge/gateway`;
}

export class EdgeIngress {
  private bundles: { sequence: number; set: TrustBundleSet } | undefined;
  /** Validated tokens until they expire (the gateway reuses one token for many requests). */
  private readonly tokens = new JwtSvidCache();

  constructor(
    private readonly ctx: DataPlaneContext,
    private readonly http: InboundHttp,
  ) {}

  private bundleSet(): TrustBundleSet {
    const b = this.ctx.identity.bundle();
    if (this.bundles?.sequence !== b.sequence || this.bundles.set.get(b.trustDomain) === undefined) {
      const tb: TrustBundle = { trustDomain: b.trustDomain, x509AuthoritiesDer: [], jwtAuthorities: b.jwtAuthorities, sequence: b.sequence };
      this.bundles = { sequence: b.sequence, set: new Map([[b.trustDomain, tb]]) };
      this.tokens.clear(); // entries of the old set can no longer hit
    }
    return this.bundles.set;
  }

  private async authenticate(header: string | undefined): Promise<string | undefined> {
    const m = header === undefined ? null : /^(?:Bearer\s+)?([A-Za-z0-9_.-]+)\s*$/i.exec(header);
    if (m === null) return `missing ${EDGE_SVID_HEADER}: <JWT-SVID>`;
    const token = m[1]!;
    const set = this.bundleSet();
    const td = this.ctx.identity.bundle().trustDomain;
    let subject: string;
    try {
      subject = (await this.tokens.validate(token, { audience: this.ctx.identity.nodeSpiffeId(), bundles: set, clock: this.ctx.clock })).spiffeId.toString();
    } catch (err) {
      return `invalid JWT-SVID: ${err instanceof Error ? err.message : String(err)}`;
    }
    // Checked on every request, remembered token or not: a revocation takes effect at once.
    if (subject !== edgeGatewayId(td)) return `JWT-SVID subject ${subject} is not the edge gateway`;
    if (this.ctx.identity.isRevoked(subject)) return "JWT-SVID subject is revoked";
    return undefined;
  }

  handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.run(req, res).catch((err: unknown) => {
      this.ctx.logger.error("edge-ingress request failed", { error: err instanceof Error ? err.message : String(err) });
      if (!res.headersSent) local(res, 500, "internal proxy error");
      else res.destroy();
    });
  };

  private async run(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const svid = req.headers[EDGE_SVID_HEADER];
    const problem = await this.authenticate(typeof svid === "string" ? svid : undefined);
    if (problem !== undefined) {
      this.ctx.metrics.count("edge_ingress_unauthenticated");
      req.resume();
      return local(res, 401, problem);
    }
    const view = this.ctx.config.current();
    if (view === undefined) return local(res, 503, "no configuration yet");
    const pinned = req.headers[EDGE_TARGET_HEADER];
    const target = targetForHost(view, req.headers.host, typeof pinned === "string" ? pinned : undefined);
    if (target === undefined) return local(res, 404, `no workload of this node serves ${req.headers.host ?? "(no Host)"}`, "NR");
    delete req.headers[EDGE_SVID_HEADER];
    delete req.headers[EDGE_TARGET_HEADER];
    const td = this.ctx.identity.bundle().trustDomain;
    this.http.serve(req, res, target, { peer: { spiffeId: edgeGatewayId(td), trustDomain: td }, remoteAddress: req.socket.remoteAddress, security: "none", listener: "edge" }, view);
  }
}
