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
import { DirectAgent, PolicyAgent, connPolicyKey, type UpstreamConnPolicy } from "./pooled-agent.ts";

export { UpstreamConnectError } from "./pooled-agent.ts";

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

/** Idle HBONE streams are dropped after 30 s, well before the peer's 60 s keep-alive timeout. */
const HBONE_IDLE_MS = 30_000;
/** Idle connections to servers outside the mesh close before common 5 s keep-alive timeouts do. */
const DIRECT_IDLE_MS = 4_000;

class HboneAgent extends PolicyAgent {
  constructor(
    private readonly connector: HboneConnector,
    private readonly route: HboneRoute,
    policy: UpstreamConnPolicy,
  ) {
    super(policy, HBONE_IDLE_MS);
  }

  protected describe(): string {
    return `${this.route.target.host}:${this.route.target.port} (HBONE) for ${this.route.authority}`;
  }

  protected async open(): Promise<Duplex> {
    return asAgentSocket(await this.connector.connect({ ...this.route }));
  }
}

/** Agents per upstream (and per DestinationRule connection settings): HBONE streams or direct TCP. */
export class HboneAgentPool {
  private readonly agents = new Map<string, PolicyAgent>();

  constructor(private readonly connector: HboneConnector) {}

  agentFor(route: HboneRoute, policy: UpstreamConnPolicy): http.Agent {
    const key = `${route.source}|${route.target.host}:${route.target.port}|${route.authority}|${route.expectedPeer}|${connPolicyKey(policy)}`;
    let agent = this.agents.get(key);
    if (agent === undefined) {
      agent = new HboneAgent(this.connector, route, policy);
      this.agents.set(key, agent);
    }
    return agent;
  }

  /** Plain HTTP to an endpoint outside the mesh (no node placement). */
  directFor(target: { host: string; port: number }, policy: UpstreamConnPolicy): http.Agent {
    const key = `direct|${target.host}:${target.port}|${connPolicyKey(policy)}`;
    let agent = this.agents.get(key);
    if (agent === undefined) {
      agent = new DirectAgent(target, policy, DIRECT_IDLE_MS);
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
