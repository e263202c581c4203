/**
 * Real HTTP upstreams for gateway tests: node:http servers on 127.0.0.1:0 that record every
 * request they receive and answer with what they saw (or what the test tells them to).
 */
import { createServer, request as httpRequestRaw, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

export interface EchoReply {
  status?: number;
  headers?: Record<string, string>;
  body?: string;
  /** Wait before answering. */
  delayMs?: number;
}

export interface EchoServer {
  name: string;
  port: number;
  /** `127.0.0.1:<port>`. */
  address: string;
  seen: SeenRequest[];
  /** How to answer; default 200 with JSON `{server, method, url, headers, body}`. */
  reply: (r: SeenRequest) => EchoReply;
  /** Seen requests whose path starts with `prefix`. */
  count(prefix?: string): number;
  /** Waits until `n` requests with the prefix arrived (bounded). */
  waitFor(n: number, prefix?: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startEchoServer(name: string): Promise<EchoServer> {
  const seen: SeenRequest[] = [];
  const state: { reply: (r: SeenRequest) => EchoReply } = { reply: () => ({}) };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const r: SeenRequest = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), at: Date.now() };
      seen.push(r);
      const reply = state.reply(r);
      const send = () => {
        if (res.destroyed) return;
        const body = reply.body ?? JSON.stringify({ server: name, method: r.method, url: r.url, headers: r.headers, body: r.body });
        res.writeHead(reply.status ?? 200, { "content-type": reply.body === undefined ? "application/json" : "text/plain", ...reply.headers });
        res.end(body);
      };
      if (reply.delayMs !== undefined) setTimeout(send, reply.delayMs);
      else send();
    });
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const count = (prefix = "") => seen.filter((s) => s.url.startsWith(prefix)).length;
  return {
    name,
    port,
    address: `127.0.0.1:${port}`,
    seen,
    get reply() {
      return state.reply;
    },
    set reply(fn) {
      state.reply = fn;
    },
    count,
    async waitFor(n, prefix = "", timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (count(prefix) < n) {
        if (Date.now() > deadline) throw new Error(`${name}: expected ${n} requests under ${prefix || "/"}, saw ${count(prefix)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on (bound, then closed): connecting to it fails (UF). */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** Body parsed as JSON when it is JSON, else undefined. */
  json<T = unknown>(): T;
}

/**
 * One HTTP/1.1 request with node:http, so a test can send any `Host` (fetch forbids it) and
 * malformed paths. Bounded by `timeoutMs`.
 */
export function httpRequest(base: URL, path: string, o: { method?: string; host?: string; headers?: Record<string, string>; body?: string; timeoutMs?: number } = {}): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequestRaw(
      { host: base.hostname, port: Number(base.port), method: o.method ?? "GET", path, headers: { ...(o.host === undefined ? {} : { host: o.host }), ...o.headers }, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const body = Buffer.concat(chunks).toString("utf8");
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: <T>() => JSON.parse(body) as T });
        });
        res.on("error", reject);
      },
    );
    req.setTimeout(o.timeoutMs ?? 30_000, () => req.destroy(new Error(`request ${path} timed out`)));
    req.on("error", reject);
    if (o.body !== undefined) req.write(o.body);
    req.end();
  });
}

/**
 * Istio YAML (with its `---`) of a ServiceEntry `<name>.<namespace>.internal` whose one STATIC
 * endpoint is a local server on 127.0.0.1:`port` (plain HTTP on port 80).
 */
export function loopbackServiceEntry(name: string, namespace: string, port: number): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name}, namespace: ${namespace} }
spec:
  hosts: ["${name}.${namespace}.internal"]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{ number: 80, name: http, protocol: HTTP }]
  endpoints: [{ address: 127.0.0.1, ports: { http: ${port} } }]
---
`;
}
