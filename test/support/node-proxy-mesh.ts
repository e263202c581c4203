/**
 * A mesh on loopback for the node proxy's end-to-end tests: the real control worker (workerd)
 * behind a loopback relay with a stable port (so the control plane can be stopped and brought
 * back on the same URL), node proxies started in-process with `startProxy` (join tokens,
 * port-0 listeners, their own state directories), echo workloads on 127.0.0.1:0, and a TCP relay
 * that records every byte between two proxies (the "packet capture").
 */
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyMigrations, startControlWorker, type StartedWorker } from "./control-worker.ts";
import { createThrowawayCa, type ThrowawayCa } from "./throwaway-ca.ts";
import { applyYaml, mintJoinToken } from "./control-client.ts";
import { startProxy, type RunningProxy } from "../../src/node-proxy/main.ts";
import type { ProxySettings } from "../../src/node-proxy/context.ts";

const ANY = { host: "127.0.0.1", port: 0 };

/** A TCP relay on a fixed local port whose target can change or go away. */
export class LoopbackRelay {
  readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  /** Bytes seen in each direction, when capturing. */
  readonly captured: Buffer[] = [];
  capture = false;

  private constructor(public target: { host: string; port: number } | undefined) {
    this.server = net.createServer((client) => {
      this.sockets.add(client);
      client.once("close", () => this.sockets.delete(client));
      client.on("error", () => client.destroy());
      const t = this.target;
      if (t === undefined) {
        client.destroy();
        return;
      }
      const upstream = net.connect(t);
      this.sockets.add(upstream);
      upstream.once("close", () => {
        this.sockets.delete(upstream);
        client.destroy();
      });
      client.once("close", () => upstream.destroy());
      upstream.on("error", () => upstream.destroy());
      client.on("data", (d: Buffer) => {
        if (this.capture) this.captured.push(Buffer.from(d));
        upstream.write(d);
      });
      upstream.on("data", (d: Buffer) => {
        if (this.capture) this.captured.push(Buffer.from(d));
        client.write(d);
      });
    });
  }

  static async start(target: { host: string; port: number } | undefined): Promise<LoopbackRelay> {
    const r = new LoopbackRelay(target);
    await new Promise<void>((res) => r.server.listen(0, "127.0.0.1", res));
    return r;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  /** Drops every relayed connection (the target went away). */
  cut(): void {
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((res) => this.server.close(() => res()));
  }
}

export interface EchoWorkload {
  name: string;
  port: number;
  /** Requests seen, in order. */
  requests: { method: string; path: string; headers: http.IncomingHttpHeaders; body: string }[];
  /** Status to answer (default 200); may look at the request count. */
  status: (n: number) => number;
  delayMs: number;
  close(): Promise<void>;
}

/** An HTTP workload that answers JSON naming itself and echoing what it got. */
export async function startEcho(name: string): Promise<EchoWorkload> {
  const w: EchoWorkload = {
    name,
    port: 0,
    requests: [],
    status: () => 200,
    delayMs: 0,
    close: async () => undefined,
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      w.requests.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, body });
      const status = w.status(w.requests.length);
      const answer = () => {
        const text = JSON.stringify({ workload: name, path: req.url, headers: req.headers, body });
        res.writeHead(status, { "content-type": "application/json", "content-length": String(Buffer.byteLength(text)) }).end(text);
      };
      if (w.delayMs > 0) setTimeout(answer, w.delayMs);
      else answer();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
  w.port = (server.address() as net.AddressInfo).port;
  w.close = () =>
    new Promise<void>((res) => {
      server.close(() => res());
      server.closeAllConnections();
    });
  return w;
}

/** A TCP workload that answers every line with `<name>:<line>`. */
export async function startTcpEcho(name: string): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("error", () => s.destroy());
    s.once("close", () => sockets.delete(s));
    s.on("data", (d: Buffer) => s.write(`${name}:${d.toString("utf8")}`));
  });
  await new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((res) => {
        for (const s of sockets) s.destroy();
        server.close(() => res());
      }),
  };
}

export interface ProxyNode {
  cluster: string;
  node: string;
  stateDir: string;
  proxy: RunningProxy;
  port(name: "outbound" | "hbone" | "inboundPlaintext" | "edgeIngress" | "admin" | "metrics"): number;
  /** Prometheus exposition of this proxy's metrics. */
  metricsText(): Promise<string>;
}

export class TestMesh {
  ca!: ThrowawayCa;
  worker: StartedWorker | undefined;
  /** Stable URL of the control plane (a relay in front of the current worker). */
  control!: LoopbackRelay;
  private persistDir: string | undefined;
  private vars: Record<string, string> = {};
  private readonly dirs: string[] = [];
  readonly nodes: ProxyNode[] = [];

  static async start(o: { vars?: Record<string, string> } = {}): Promise<TestMesh> {
    const m = new TestMesh();
    m.ca = await createThrowawayCa();
    m.vars = { ...m.ca.vars, ...(o.vars ?? {}) };
    // Our own persist dir (migrations applied here), so the state outlives a stopped worker.
    m.persistDir = await mkdtemp(join(tmpdir(), "strait-mesh-persist-"));
    m.dirs.push(m.persistDir);
    await applyMigrations(m.persistDir);
    m.worker = await startControlWorker({ vars: m.vars, persistDir: m.persistDir });
    m.control = await LoopbackRelay.start({ host: m.worker.url.hostname, port: Number(m.worker.url.port) });
    return m;
  }

  get controlUrl(): URL {
    return new URL(`http://127.0.0.1:${this.control.port}/`);
  }

  async apply(yaml: string): Promise<void> {
    assert.ok(this.worker, "control plane is running");
    await applyYaml(this.worker, this.ca.adminToken, yaml);
  }

  /** Stops the control worker (its D1/KV state stays on disk for {@link startControl}). */
  async stopControl(): Promise<void> {
    this.control.target = undefined;
    this.control.cut();
    const w = this.worker;
    this.worker = undefined;
    await w?.dispose();
  }

  /** Brings the control worker back on the same state; the relay points at it again. */
  async startControl(): Promise<void> {
    this.worker = await startControlWorker({ vars: this.vars, ...(this.persistDir === undefined ? {} : { persistDir: this.persistDir }) });
    this.control.target = { host: this.worker.url.hostname, port: Number(this.worker.url.port) };
  }

  async startNode(cluster: string, node: string, o: { stateDir?: string; accessLog?: string } = {}): Promise<ProxyNode> {
    let stateDir = o.stateDir;
    if (stateDir === undefined) {
      stateDir = await mkdtemp(join(tmpdir(), `strait-proxy-${node}-`));
      this.dirs.push(stateDir);
    }
    const token = o.stateDir === undefined ? await mintJoinToken(this.worker!, this.ca.adminToken, cluster, node) : "already-attested";
    const settings: ProxySettings = {
      controlUrl: this.controlUrl,
      cluster,
      node,
      attestation: { kind: "join-token", token },
      listen: { outbound: ANY, inboundPlaintext: ANY, hbone: ANY, edgeIngress: ANY, admin: ANY, metrics: ANY },
      stateDir,
      longPollSeconds: 5,
      hbonePeerPort: 15008,
      accessLog: o.accessLog ?? "off",
    };
    const logger = { info() {}, warn: (m: string, f?: Record<string, unknown>) => console.error(`[${node}] ${m}`, f ?? ""), error: (m: string, f?: Record<string, unknown>) => console.error(`[${node}] ${m}`, f ?? "") };
    const proxy = await startProxy(settings, { logger });
    const n: ProxyNode = {
      cluster,
      node,
      stateDir,
      proxy,
      port: (name) => {
        const a = proxy.listening.get(name);
        assert.ok(a, `${node} listens on ${name}`);
        return a.port;
      },
      metricsText: async () => proxy.metrics.registry.metrics(),
    };
    this.nodes.push(n);
    return n;
  }

  async stopNode(n: ProxyNode): Promise<void> {
    const i = this.nodes.indexOf(n);
    if (i >= 0) this.nodes.splice(i, 1);
    await n.proxy.close();
  }

  async close(): Promise<void> {
    for (const n of [...this.nodes]) await this.stopNode(n).catch(() => undefined);
    await this.control?.close();
    await this.worker?.dispose();
    for (const d of this.dirs) await rm(d, { recursive: true, force: true });
  }
}

/** Polls `check` until it returns a value (not undefined/false), or fails after `ms`. */
export async function eventually<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface ProxiedResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 32 });

/** `Proxy-Authorization` naming the calling workload (`<name>.<namespace>`), as `HTTP_PROXY=http://<name>.<namespace>@host:port` sends it. */
export function proxyAuthorization(source: string): string {
  return `Basic ${Buffer.from(`${source}:`).toString("base64")}`;
}

/** An HTTP request through an outbound proxy listener (origin form, Host naming the service). */
export function viaProxy(
  outboundPort: number,
  host: string,
  path = "/",
  o: { method?: string; body?: string; headers?: Record<string, string>; agent?: http.Agent; source?: string } = {},
): Promise<ProxiedResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port: outboundPort, method: o.method ?? (o.body === undefined ? "GET" : "POST"), path, headers: { host, "proxy-authorization": proxyAuthorization(o.source ?? "sleep.shop"), ...(o.headers ?? {}) }, agent: o.agent ?? keepAlive },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("error", reject);
    req.end(o.body);
  });
}

/** Raw bytes to a listener; resolves with everything it answered before closing (or after `ms`). */
export function rawExchange(port: number, bytes: string | Buffer, ms = 3000): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port });
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ text: Buffer.concat(chunks).toString("latin1"), closed });
    };
    const timer = setTimeout(() => finish(false), ms);
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("close", () => finish(true));
    s.on("error", () => finish(true));
    s.write(bytes);
  });
}
