/**
 * `http.Agent` with a DestinationRule's connection settings applied to its upstream connections:
 *
 * - `connectionPool.tcp.connectTimeout`: a connection (HBONE CONNECT stream or TCP dial) not
 *   established in time fails as a connect failure (503 `UF`); Istio's default is 10 s;
 * - `connectionPool.http.idleTimeout`: an idle kept-alive connection is closed after it (capped
 *   at the agent's own idle limit, which stays below the far side's keep-alive timeout);
 * - `connectionPool.http.maxRequestsPerConnection`: a connection that has carried that many
 *   requests is closed instead of being reused (`0`/unset: unlimited).
 */
import http from "node:http";
import net from "node:net";
import type { Duplex } from "node:stream";
import type { ConnectionPoolSettings } from "../../core/config/kinds/destination-rule.ts";
import { parseDurationMs } from "../../core/config/duration.ts";

/** The HBONE CONNECT or TCP dial for a new upstream connection failed (flag UF). */
export class UpstreamConnectError extends Error {
  readonly code = "ERR_UPSTREAM_CONNECT";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export interface UpstreamConnPolicy {
  connectTimeoutMs: number;
  idleTimeoutMs?: number;
  maxRequestsPerConnection?: number;
}

const DEFAULT_POLICY: UpstreamConnPolicy = { connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS };

/** The connection settings of a cluster's `connectionPool` (validated config; bad durations fall back to defaults). */
export function connPolicyOf(cp: ConnectionPoolSettings | undefined): UpstreamConnPolicy {
  if (cp === undefined) return DEFAULT_POLICY;
  const out: UpstreamConnPolicy = { connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS };
  const ct = cp.tcp?.connectTimeout === undefined ? undefined : parseDurationMs(cp.tcp.connectTimeout);
  if (ct !== undefined && ct > 0) out.connectTimeoutMs = ct;
  const idle = cp.http?.idleTimeout === undefined ? undefined : parseDurationMs(cp.http.idleTimeout);
  if (idle !== undefined && idle > 0) out.idleTimeoutMs = idle;
  const max = cp.http?.maxRequestsPerConnection;
  if (max !== undefined && max > 0) out.maxRequestsPerConnection = max;
  return out;
}

export function connPolicyKey(p: UpstreamConnPolicy): string {
  return `${p.connectTimeoutMs}|${p.idleTimeoutMs ?? ""}|${p.maxRequestsPerConnection ?? ""}`;
}

type AgentCallback = (err: Error | null, stream?: Duplex) => void;

interface SocketUse {
  requests: number;
  idle?: NodeJS.Timeout;
}

export abstract class PolicyAgent extends http.Agent {
  private readonly uses = new WeakMap<object, SocketUse>();

  constructor(
    protected readonly policy: UpstreamConnPolicy,
    private readonly maxIdleMs: number,
  ) {
    super({ keepAlive: true, keepAliveMsecs: maxIdleMs, maxFreeSockets: 64, scheduling: "lifo", timeout: Math.min(policy.idleTimeoutMs ?? maxIdleMs, maxIdleMs) });
  }

  /** Opens one upstream connection (rejects with {@link UpstreamConnectError}). */
  protected abstract open(signal: AbortSignal): Promise<Duplex>;

  /** Description of the target for error messages. */
  protected abstract describe(): string;

  override createConnection(_options: unknown, callback: AgentCallback): undefined {
    const ac = new AbortController();
    let done = false;
    const timer = setTimeout(() => {
      if (done) return;
      done = true;
      ac.abort();
      callback(new UpstreamConnectError(`connecting to ${this.describe()} timed out after ${this.policy.connectTimeoutMs} ms (connectionPool.tcp.connectTimeout)`));
    }, this.policy.connectTimeoutMs);
    this.open(ac.signal).then(
      (stream) => {
        clearTimeout(timer);
        if (done) {
          stream.destroy();
          return;
        }
        done = true;
        this.uses.set(stream, { requests: 1 });
        callback(null, stream);
      },
      (err: unknown) => {
        clearTimeout(timer);
        if (done) return;
        done = true;
        callback(err instanceof UpstreamConnectError ? err : new UpstreamConnectError(`connecting to ${this.describe()} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
      },
    );
    return undefined;
  }

  override keepSocketAlive(socket: net.Socket): boolean {
    const use = this.uses.get(socket);
    const max = this.policy.maxRequestsPerConnection;
    if (use !== undefined && max !== undefined && use.requests >= max) return false;
    // Node's Agent returns whether it kept the socket (@types/node declares void).
    if ((super.keepSocketAlive(socket) as unknown) === false) return false;
    const idleMs = this.policy.idleTimeoutMs;
    if (use !== undefined && idleMs !== undefined && idleMs < this.maxIdleMs) {
      use.idle = setTimeout(() => socket.destroy(), idleMs);
      use.idle.unref();
    }
    return true;
  }

  override reuseSocket(socket: net.Socket, req: http.ClientRequest): void {
    const use = this.uses.get(socket);
    if (use !== undefined) {
      use.requests++;
      if (use.idle !== undefined) clearTimeout(use.idle);
      use.idle = undefined;
    }
    super.reuseSocket(socket, req);
  }
}

/** Plain TCP to an endpoint outside the mesh. */
export class DirectAgent extends PolicyAgent {
  constructor(
    private readonly target: { host: string; port: number },
    policy: UpstreamConnPolicy,
    maxIdleMs: number,
  ) {
    super(policy, maxIdleMs);
  }

  protected describe(): string {
    return `${this.target.host}:${this.target.port}`;
  }

  protected open(signal: AbortSignal): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: this.target.host, port: this.target.port });
      const onAbort = () => s.destroy();
      signal.addEventListener("abort", onAbort, { once: true });
      s.once("connect", () => {
        signal.removeEventListener("abort", onAbort);
        s.off("error", reject);
        resolve(s);
      });
      s.once("error", reject);
    });
  }
}
