/**
 * Keep-alive HTTP/1.1 connections to remote workloads, each one an HBONE CONNECT stream.
 *
 * One `http.Agent` per (source identity, peer node proxy, destination `address:port`, expected
 * server identity); its sockets are CONNECT streams opened by the HBONE connector (H2 streams
 * multiplexed over pooled mutual-TLS connections). An idle stream is kept for the next request,
 * so a busy route costs one HEADERS frame per stream, not one per request.
 */
import http from "node:http";
import type { Duplex } from "node:stream";
import type { HboneConnector } from "../context.ts";

/** The HBONE CONNECT for a new upstream connection failed (flag UF). */
export class UpstreamConnectError extends Error {
  readonly code = "ERR_UPSTREAM_CONNECT";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface HboneRoute {
  source: string;
  target: { host: string; port: number };
  authority: string;
  expectedPeer: string;
}

/**
 * Node 20's HTTP/2 streams corrupt string writes (the native copy of a string chunk is freed
 * before nghttp2 sends it: the first 16 bytes arrive as heap pointers). Node's HTTP code writes
 * its head as a latin1 string, so every HTTP/1.1 exchange inside an HBONE stream goes through
 * this: strings become Buffers, which the stream keeps referenced until they are sent.
 */
export function withBufferWrites<T extends Duplex>(stream: T): T {
  const write = stream.write.bind(stream) as (chunk: unknown, enc?: unknown, cb?: unknown) => boolean;
  (stream as { write: unknown }).write = (chunk: unknown, enc?: unknown, cb?: unknown): boolean => {
    if (typeof chunk === "string") {
      const encoding = typeof enc === "string" ? (enc as BufferEncoding) : "utf8";
      return write(Buffer.from(chunk, encoding), typeof enc === "function" ? enc : cb);
    }
    return write(chunk, enc, cb);
  };
  return stream;
}

type AgentCallback = (err: Error | null, stream?: Duplex) => void;

/**
 * The agent calls `setKeepAlive`/`ref`/`unref`/`setNoDelay` on its sockets; an H2 stream has none
 * of them, and they mean nothing for a stream (the TLS connection underneath is kept alive by the
 * HBONE pool), so they become no-ops on that one stream object.
 */
function asAgentSocket(stream: Duplex): Duplex {
  withBufferWrites(stream);
  const s = stream as Duplex & Record<string, unknown>;
  for (const m of ["setKeepAlive", "setNoDelay", "ref", "unref"]) {
    if (typeof s[m] !== "function") s[m] = () => stream;
  }
  if (typeof s.setTimeout !== "function") s.setTimeout = () => stream;
  return stream;
}

class HboneAgent extends http.Agent {
  constructor(
    private readonly connector: HboneConnector,
    private readonly route: HboneRoute,
  ) {
    // Idle streams are dropped after 30 s, well before the peer's 60 s keep-alive timeout, so a
    // request is never written into a stream the peer is closing.
    super({ keepAlive: true, keepAliveMsecs: 30_000, maxFreeSockets: 64, scheduling: "lifo", timeout: 30_000 });
  }

  override createConnection(_options: unknown, callback: AgentCallback): undefined {
    this.connector.connect({ ...this.route }).then(
      (stream) => callback(null, asAgentSocket(stream)),
      (err: unknown) => callback(new UpstreamConnectError(`HBONE connect to ${this.route.target.host}:${this.route.target.port} for ${this.route.authority} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err })),
    );
    return undefined;
  }
}

export class HboneAgentPool {
  private readonly agents = new Map<string, HboneAgent>();

  constructor(private readonly connector: HboneConnector) {}

  agentFor(route: HboneRoute): http.Agent {
    const key = `${route.source}|${route.target.host}:${route.target.port}|${route.authority}|${route.expectedPeer}`;
    let agent = this.agents.get(key);
    if (agent === undefined) {
      agent = new HboneAgent(this.connector, route);
      this.agents.set(key, agent);
    }
    return agent;
  }

  /** Drops idle streams of every agent (e.g. after an SVID renewal, so new streams use new certificates). */
  dropIdle(): void {
    for (const agent of this.agents.values()) {
      for (const list of Object.values(agent.freeSockets)) for (const s of list ?? []) s.destroy();
    }
  }

  close(): void {
    for (const agent of this.agents.values()) agent.destroy();
    this.agents.clear();
  }
}
