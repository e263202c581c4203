/**
 * The control API as the node proxy calls it: attestation, renewal, workload SVIDs,
 * the node snapshot long-poll and the applied-version report. Answers are checked
 * for shape before use; anything unexpected is a `ControlApiError`, never a crash.
 */
import { ControlApiError } from "./errors.ts";

/** What attestation and renewal return (src/control/identity/issuer.ts `NodeCredentials`). */
export interface NodeCredentialsAnswer {
  spiffeId: string;
  x509Svid: { certificatePem: string; chainPem: string; serial: string; notAfter: string };
  jwtSvid: { token: string; audience: string[]; expiresAt: string };
  bundle: { keys: Record<string, unknown>[]; spiffe_sequence: number; spiffe_refresh_hint: number };
  bundlePem: string;
}

export interface X509SvidAnswer {
  spiffeId: string;
  certificatePem: string;
  chainPem: string;
  serial: string;
  notAfter: string;
}

export type AttestationBody = { csr: string; joinToken: string } | { csr: string; k8s: { cluster: string; token: string } };

/** A snapshot head as the control API serves it. */
export interface SnapshotHeadAnswer {
  version: number;
  hash: string;
  revision: number;
  jws: string;
}

/** Generous: a cold control plane (first request after a deploy or a restart) can take seconds. */
const REQUEST_TIMEOUT_MS = 30_000;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function str(o: Record<string, unknown>, key: string, where: string): string {
  const v = o[key];
  if (typeof v !== "string") throw new ControlApiError(`${where}: answer lacks ${key}`, undefined);
  return v;
}

export function parseNodeCredentials(body: unknown, where: string): NodeCredentialsAnswer {
  if (!isObject(body) || !isObject(body.x509Svid) || !isObject(body.jwtSvid) || !isObject(body.bundle)) throw new ControlApiError(`${where}: unexpected answer`, undefined);
  const x = body.x509Svid;
  const j = body.jwtSvid;
  if (!Array.isArray(body.bundle.keys)) throw new ControlApiError(`${where}: bundle lacks keys`, undefined);
  return {
    spiffeId: str(body, "spiffeId", where),
    x509Svid: { certificatePem: str(x, "certificatePem", where), chainPem: str(x, "chainPem", where), serial: str(x, "serial", where), notAfter: str(x, "notAfter", where) },
    jwtSvid: { token: str(j, "token", where), audience: Array.isArray(j.audience) ? j.audience.map(String) : [], expiresAt: str(j, "expiresAt", where) },
    bundle: body.bundle as NodeCredentialsAnswer["bundle"],
    bundlePem: str(body, "bundlePem", where),
  };
}

function parseSvid(v: unknown, where: string): X509SvidAnswer {
  if (!isObject(v)) throw new ControlApiError(`${where}: unexpected SVID entry`, undefined);
  return { spiffeId: str(v, "spiffeId", where), certificatePem: str(v, "certificatePem", where), chainPem: str(v, "chainPem", where), serial: str(v, "serial", where), notAfter: str(v, "notAfter", where) };
}

/** The error message of a control API answer (`{error: {message}}`), or its status. */
async function failure(res: Response, where: string): Promise<ControlApiError> {
  let detail = `HTTP ${res.status}`;
  try {
    const body: unknown = await res.json();
    if (isObject(body) && isObject(body.error) && typeof body.error.message === "string") detail += `: ${body.error.message}`;
  } catch {
    // Not JSON: the status says enough.
  }
  return new ControlApiError(`${where}: ${detail}`, res.status);
}

export interface ControlApiOptions {
  baseUrl: URL;
  /** The node's current JWT-SVID for the control API (changes with each renewal); undefined once it expired. */
  bearer: () => string | undefined;
  fetch?: typeof fetch;
}

export class ControlApi {
  private readonly fetchImpl: typeof fetch;
  private reauthenticator: (() => Promise<void>) | undefined;
  private reauthenticating: Promise<void> | undefined;

  constructor(private readonly o: ControlApiOptions) {
    this.fetchImpl = o.fetch ?? fetch;
  }

  /**
   * How to get a fresh JWT-SVID when the node has none (it expired, e.g. during an outage
   * longer than its lifetime) or the control plane refuses it (401): the SvidManager renews
   * the node by proof of possession of its X.509-SVID key, which needs no JWT-SVID. A call
   * made without a usable bearer, or answered 401, runs it once and is sent again once.
   */
  setReauthenticator(reauthenticate: () => Promise<void>): void {
    this.reauthenticator = reauthenticate;
  }

  /** Runs the reauthenticator once for every caller waiting at the same time. */
  private async reauthenticate(): Promise<void> {
    if (this.reauthenticator === undefined) return;
    this.reauthenticating ??= this.reauthenticator().finally(() => {
      this.reauthenticating = undefined;
    });
    await this.reauthenticating;
  }

  private async call(path: string, init: { method?: string; json?: unknown; headers?: Record<string, string>; signal?: AbortSignal; timeoutMs?: number; auth?: boolean }): Promise<Response> {
    if (init.auth === false) return this.send(path, init, undefined);
    let token = this.o.bearer();
    if (token === undefined) {
      await this.reauthenticate();
      token = this.o.bearer();
    }
    if (token === undefined) throw new ControlApiError(`${path}: the node has no valid JWT-SVID for the control API (attestation or renewal has not succeeded yet)`, undefined);
    const res = await this.send(path, init, token);
    if (res.status !== 401 || this.reauthenticator === undefined) return res;
    // Refused credentials (e.g. expired by the control plane's clock): renew by X.509 proof of possession, then once more.
    const refused = await failure(res, path);
    // Another call may have renewed meanwhile: then its JWT-SVID is used without renewing again.
    if (this.o.bearer() === token) await this.reauthenticate();
    const fresh = this.o.bearer();
    if (fresh === undefined || fresh === token) throw refused;
    return this.send(path, init, fresh);
  }

  private async send(path: string, init: { method?: string; json?: unknown; headers?: Record<string, string>; signal?: AbortSignal; timeoutMs?: number }, token: string | undefined): Promise<Response> {
    const headers: Record<string, string> = { accept: "application/json", ...(init.headers ?? {}) };
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (init.json !== undefined) headers["content-type"] = "application/json";
    const timeout = AbortSignal.timeout(init.timeoutMs ?? REQUEST_TIMEOUT_MS);
    const signal = init.signal === undefined ? timeout : AbortSignal.any([init.signal, timeout]);
    try {
      return await this.fetchImpl(new URL(path, this.o.baseUrl), {
        method: init.method ?? (init.json === undefined ? "GET" : "POST"),
        headers,
        ...(init.json === undefined ? {} : { body: JSON.stringify(init.json) }),
        signal,
      });
    } catch (cause) {
      throw new ControlApiError(`${path}: control plane unreachable (${cause instanceof Error ? cause.message : String(cause)})`, undefined, { cause });
    }
  }

  private async json(res: Response, where: string): Promise<unknown> {
    if (!res.ok) throw await failure(res, where);
    try {
      return await res.json();
    } catch (cause) {
      throw new ControlApiError(`${where}: answer is not JSON`, res.status, { cause });
    }
  }

  async attest(body: AttestationBody): Promise<NodeCredentialsAnswer> {
    const res = await this.call("/v1/identity/attest", { json: body, auth: false });
    return parseNodeCredentials(await this.json(res, "attest"), "attest");
  }

  /**
   * Step 1 of renewal, authenticated by the node's current X.509-SVID alone (no JWT-SVID, so an
   * expired one never blocks renewal): a single-use nonce bound to the node, valid 60 s.
   */
  async renewalNonce(certificatePem: string): Promise<string> {
    const res = await this.call("/v1/identity/renew/nonce", { json: { certificate: certificatePem }, auth: false });
    const body = await this.json(res, "renew/nonce");
    if (!isObject(body) || typeof body.nonce !== "string" || body.nonce === "") throw new ControlApiError("renew/nonce: answer lacks nonce", res.status);
    return body.nonce;
  }

  /** Step 2: `{csr, nonce, certificate, signature}` (see node-attestation.ts), again without a JWT-SVID. */
  async renew(body: { csr: string; nonce: string; certificate: string; signature: string }): Promise<NodeCredentialsAnswer> {
    const res = await this.call("/v1/identity/renew", { json: body, auth: false });
    return parseNodeCredentials(await this.json(res, "renew"), "renew");
  }

  /** Any JSON POST with the node's bearer. */
  async postJson(path: string, body: unknown): Promise<unknown> {
    return this.json(await this.call(path, { json: body }), path);
  }

  async svids(requests: { spiffeId: string; csr: string }[]): Promise<X509SvidAnswer[]> {
    const res = await this.call("/v1/identity/svids", { json: { requests } });
    const body = await this.json(res, "svids");
    if (!isObject(body) || !Array.isArray(body.svids)) throw new ControlApiError("svids: unexpected answer", res.status);
    return body.svids.map((s, i) => parseSvid(s, `svids[${i}]`));
  }

  async bundle(): Promise<unknown> {
    return this.json(await this.call("/.well-known/spiffe-bundle", { auth: false }), "bundle");
  }

  /**
   * Long-polls the node snapshot: the head, `"not-modified"` (304), or `null` when none is published (404).
   */
  async snapshotHead(cluster: string, node: string, o: { knownVersion?: number; waitSeconds?: number; signal?: AbortSignal }): Promise<SnapshotHeadAnswer | "not-modified" | null> {
    const wait = o.knownVersion === undefined ? 0 : Math.max(0, Math.floor(o.waitSeconds ?? 30));
    const path = `/v1/snapshots/nodes/${encodeURIComponent(cluster)}/${encodeURIComponent(node)}?wait=${wait}`;
    const headers: Record<string, string> = o.knownVersion === undefined ? {} : { "if-none-match": `"${o.knownVersion}"` };
    const res = await this.call(path, { headers, ...(o.signal === undefined ? {} : { signal: o.signal }), timeoutMs: REQUEST_TIMEOUT_MS + wait * 1000 });
    if (res.status === 304) return "not-modified";
    if (res.status === 404) return null;
    const body = await this.json(res, "snapshot");
    if (!isObject(body) || typeof body.version !== "number" || typeof body.jws !== "string") throw new ControlApiError("snapshot: unexpected answer", res.status);
    return { version: body.version, jws: body.jws, hash: typeof body.hash === "string" ? body.hash : "", revision: typeof body.revision === "number" ? body.revision : 0 };
  }

  /** A content-addressed snapshot blob by its SHA-256 (`null` when the control plane has none). */
  async snapshotBlob(hash: string, signal?: AbortSignal): Promise<Uint8Array | null> {
    if (!/^[0-9a-f]{64}$/.test(hash)) throw new ControlApiError(`blob: ${JSON.stringify(hash)} is not a SHA-256`, undefined);
    const res = await this.call(`/v1/snapshots/blobs/${hash}`, { ...(signal === undefined ? {} : { signal }) });
    if (res.status === 404) return null;
    if (!res.ok) throw await failure(res, "blob");
    return new Uint8Array(await res.arrayBuffer());
  }

  async reportStatus(version: number, hash: string): Promise<void> {
    const res = await this.call("/v1/proxies/status", { json: { version, hash } });
    await this.json(res, "proxies/status");
  }
}
