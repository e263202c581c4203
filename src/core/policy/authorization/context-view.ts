/**
 * A per-evaluation view of an AuthzContext: derived values (peer URI, parsed
 * addresses, normalized path, JWT issuer/subject) computed at most once,
 * and only when some policy asks for them.
 */
import { parseIp } from "../cidr.ts";
import { principalUri } from "../string-match.ts";
import { normalizePolicyPath } from "./path-match.ts";
import type { AuthzContext } from "./types.ts";

const UNSET = Symbol("unset");
type Lazy<T> = T | typeof UNSET;

export class ContextView {
  readonly ctx: AuthzContext;
  readonly tcp: boolean;
  private _uri: Lazy<string | undefined> = UNSET;
  private _srcIp: Lazy<Uint8Array | undefined> = UNSET;
  private _remoteIp: Lazy<Uint8Array | undefined> = UNSET;
  private _destIp: Lazy<Uint8Array | undefined> = UNSET;
  private _path: Lazy<string | undefined> = UNSET;
  private _iss: Lazy<string | undefined> = UNSET;
  private _sub: Lazy<string | undefined> = UNSET;

  constructor(ctx: AuthzContext) {
    this.ctx = ctx;
    this.tcp = ctx.request === undefined;
  }

  /** Peer identity as a `spiffe://` URI; undefined without mTLS. */
  get peerUri(): string | undefined {
    if (this._uri === UNSET) this._uri = principalUri(this.ctx.source.principal);
    return this._uri;
  }

  get sourceIp(): Uint8Array | undefined {
    if (this._srcIp === UNSET) this._srcIp = ipOf(this.ctx.source.ip);
    return this._srcIp;
  }

  /** Original client address; the direct peer's when no trusted proxy reported one. */
  get remoteIp(): Uint8Array | undefined {
    if (this._remoteIp === UNSET) this._remoteIp = this.ctx.source.remoteIp === undefined ? this.sourceIp : ipOf(this.ctx.source.remoteIp);
    return this._remoteIp;
  }

  get destinationIp(): Uint8Array | undefined {
    if (this._destIp === UNSET) this._destIp = ipOf(this.ctx.destination.ip);
    return this._destIp;
  }

  get path(): string | undefined {
    if (this._path === UNSET) this._path = this.ctx.request === undefined ? undefined : normalizePolicyPath(this.ctx.request.path);
    return this._path;
  }

  /** JWT `iss`: from the claims when present, else split from `<iss>/<sub>` at the last `/`. */
  get issuer(): string | undefined {
    if (this._iss === UNSET) this.splitPrincipal();
    return this._iss as string | undefined;
  }

  get subject(): string | undefined {
    if (this._sub === UNSET) this.splitPrincipal();
    return this._sub as string | undefined;
  }

  private splitPrincipal(): void {
    const auth = this.ctx.request?.auth;
    const claims = auth?.claims;
    let iss = typeof claims?.["iss"] === "string" ? (claims["iss"] as string) : undefined;
    let sub = typeof claims?.["sub"] === "string" ? (claims["sub"] as string) : undefined;
    if ((iss === undefined || sub === undefined) && auth?.principal !== undefined) {
      const idx = auth.principal.lastIndexOf("/");
      if (idx >= 0) {
        iss ??= auth.principal.slice(0, idx);
        sub ??= auth.principal.slice(idx + 1);
      }
    }
    this._iss = iss;
    this._sub = sub;
  }
}

function ipOf(text: string | undefined): Uint8Array | undefined {
  return text === undefined ? undefined : parseIp(text);
}
