/**
 * A client that goes away while the gateway waits for the upstream, as one runtime-neutral table
 * run by `downstream-disconnect.test.ts` (workerd) and `deno-downstream-disconnect.test.ts`
 * (`deno serve`). Envoy's router resets the upstream request when the downstream connection
 * closes (`onResetStream` → `resetAll`), starts no further retry, and logs the request with
 * response code 0 and flag `DC` (downstream connection termination); Istio's
 * `istio_requests_total` carries `response_code="0"`, `response_flags="DC"`. Shadows (mirrors) are
 * fire-and-forget in Envoy: a downstream reset does not cancel them.
 *
 * Every wait is for an event (the upstream seeing a request, its exchange closing, a log line),
 * bounded; nothing asserts how fast anything happened.
 */
import assert from "node:assert/strict";
import { createServer, request as httpRequestRaw, type ClientRequest, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { eventually } from "../support/eventually.ts";
import { loopbackServiceEntry } from "../support/edge-gateway-upstreams.ts";

/** Longest wait for any one event of a case. */
const WAIT_MS = 15_000;

/** One request an upstream received, held until the test answers it or the gateway goes away. */
export interface HeldExchange {
  path: string;
  requestId: string;
  /** `x-envoy-attempt-count` as received. */
  attempt: number;
  /** Settles when the exchange ends: `"aborted"` when the connection closed before an answer was sent. */
  closed: Promise<"aborted" | "answered">;
  answer(status: number, body?: string): void;
  /** Starts an answer with its first chunk and keeps it open: chunked, or of `length` bytes (Content-Length) when given. */
  stream(status: number, firstChunk: string, length?: number): void;
  /** Closes the upstream's connection in the middle of a started answer. */
  breakOff(): void;
}

/**
 * An upstream that holds every request (never answers on its own), except that under `/fail-once`
 * the first try of each request (attempt count 1) gets a 503 at once: its retry is then held, an
 * upstream that fails slowly.
 */
export interface HoldingUpstream {
  name: string;
  port: number;
  exchanges: HeldExchange[];
  /** The exchanges of one request (by `x-request-id`). */
  of(requestId: string): HeldExchange[];
  /** Waits (bounded) until `n` exchanges of `requestId` arrived; returns the last one. */
  waitFor(requestId: string, n: number): Promise<HeldExchange>;
  close(): Promise<void>;
}

async function startHoldingUpstream(name: string): Promise<HoldingUpstream> {
  const exchanges: HeldExchange[] = [];
  const waiters = new Set<() => void>();
  const open = new Set<ServerResponse>();
  const server: Server = createServer((req, res) => {
    req.resume();
    let settle!: (v: "aborted" | "answered") => void;
    const closed = new Promise<"aborted" | "answered">((r) => (settle = r));
    res.on("close", () => {
      open.delete(res);
      settle(res.writableFinished ? "answered" : "aborted");
    });
    open.add(res);
    const path = req.url ?? "";
    const ex: HeldExchange = {
      path,
      requestId: String(req.headers["x-request-id"] ?? ""),
      attempt: Number(req.headers["x-envoy-attempt-count"] ?? "0"),
      closed,
      answer(status, body = name) {
        if (res.destroyed || res.writableEnded) return;
        res.writeHead(status, { "content-type": "text/plain", "content-length": String(Buffer.byteLength(body)) });
        res.end(body);
      },
      stream(status, firstChunk, length) {
        if (res.destroyed || res.writableEnded) return;
        res.writeHead(status, { "content-type": "text/plain", ...(length === undefined ? {} : { "content-length": String(length) }) });
        res.write(firstChunk);
      },
      breakOff() {
        res.socket?.destroy();
      },
    };
    exchanges.push(ex);
    for (const w of waiters) w();
    if (path.startsWith("/fail-once") && ex.attempt === 1) ex.answer(503, "failing");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const of = (id: string) => exchanges.filter((e) => e.requestId === id);
  return {
    name,
    port: (server.address() as AddressInfo).port,
    exchanges,
    of,
    waitFor(id, n) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const seen = of(id);
          if (seen.length < n) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(seen[n - 1]!);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`${name}: expected ${n} exchanges of ${id}, saw ${of(id).length}`));
        }, WAIT_MS);
        waiters.add(check);
        check();
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of open) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The upstreams every runner starts once, and the Istio YAML that routes `*.dc.test` to them. */
export interface DisconnectFixture {
  up: HoldingUpstream;
  mirror: HoldingUpstream;
  /** The Gateway, the ServiceEntries and the VirtualService of the cases (apply once, then `READY_PATH` answers). */
  yaml: string;
  close(): Promise<void>;
}

export const HOST = "app.dc.test";
/** Answers 200 `ready` once the gateway has the snapshot with the cases' routes. */
export const READY_PATH = "/__ready";

export async function startDisconnectFixture(): Promise<DisconnectFixture> {
  const [up, mirror] = await Promise.all([startHoldingUpstream("up"), startHoldingUpstream("mirror")]);
  const se = (name: string, port: number) => loopbackServiceEntry(name, "dc", port);
  const yaml = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge, namespace: dc }
spec:
  selector: { istio: dc-gateway }
  servers:
    - port: { number: 80, name: http, protocol: HTTP }
      hosts: ["*.dc.test"]
---
${se("up", up.port)}${se("mirror", mirror.port)}apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: app, namespace: dc }
spec:
  hosts: ["${HOST}"]
  gateways: ["dc/edge"]
  http:
    - match: [{ uri: { exact: ${READY_PATH} } }]
      directResponse: { status: 200, body: { string: "ready" } }
    - match: [{ uri: { prefix: /hold } }]
      route: [{ destination: { host: up.dc.internal } }]
    - match: [{ uri: { prefix: /timed } }]
      timeout: 120s
      retries: { attempts: 2, perTryTimeout: 90s, retryOn: 5xx }
      route: [{ destination: { host: up.dc.internal } }]
    - match: [{ uri: { prefix: /fail-once } }]
      retries: { attempts: 3, retryOn: 5xx }
      route: [{ destination: { host: up.dc.internal } }]
    - match: [{ uri: { prefix: /mirrored } }]
      mirror: { host: mirror.dc.internal }
      route: [{ destination: { host: up.dc.internal } }]
---
`;
  return {
    up,
    mirror,
    yaml,
    close: async () => {
      await Promise.all([up.close(), mirror.close()]);
    },
  };
}

/** A local OTLP/HTTP collector (JSON) keeping the `istio_requests_total` points it receives. */
export interface MetricsCollector {
  endpoint: string;
  requestsTotal(): { labels: Record<string, string>; value: number }[];
  close(): Promise<void>;
}

interface OtlpKeyValue {
  key: string;
  value: { stringValue?: string; intValue?: string };
}
interface OtlpMetrics {
  resourceMetrics?: { scopeMetrics?: { metrics?: { name: string; sum?: { dataPoints: { attributes: OtlpKeyValue[]; asInt?: string }[] } }[] }[] }[];
}

export async function startCollector(): Promise<MetricsCollector> {
  const points: { labels: Record<string, string>; value: number }[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.url === "/v1/metrics") {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as OtlpMetrics;
        for (const rm of body.resourceMetrics ?? [])
          for (const sm of rm.scopeMetrics ?? [])
            for (const m of sm.metrics ?? []) {
              if (m.name !== "istio_requests_total") continue;
              for (const p of m.sum?.dataPoints ?? []) {
                const labels: Record<string, string> = {};
                for (const a of p.attributes) labels[a.key] = a.value.stringValue ?? a.value.intValue ?? "";
                points.push({ labels, value: Number(p.asInt ?? "0") });
              }
            }
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requestsTotal: () => points,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}


/** How a runner reaches its gateway and reads what it logged. */
export interface DisconnectTarget {
  runtime: "workerd" | "deno";
  url: URL;
  /** The access-log lines (JSON) the gateway printed so far. */
  accessLog(): readonly Record<string, unknown>[];
  /** `istio_requests_total` data points exported so far (attributes as a flat record, value). */
  requestsTotal(): readonly { labels: Record<string, string>; value: number }[];
}

export interface DisconnectCase {
  name: string;
  run(t: DisconnectTarget, f: DisconnectFixture): Promise<void>;
}

/** A request whose client can go away mid-exchange; its errors (the socket it destroys) are expected. */
export function openRequest(base: URL, path: string, requestId: string): ClientRequest {
  const req = httpRequestRaw({ host: base.hostname, port: Number(base.port), method: "GET", path, headers: { host: HOST, "x-request-id": requestId }, agent: false });
  req.on("error", () => undefined);
  req.end();
  return req;
}

/**
 * The client goes away: its socket is reset (RST). workerd's HTTP server (kj) watches a waiting
 * request's connection for a write-side disconnect, which a reset is; a FIN alone (half-close) is
 * not seen until workerd writes the response (see docs/edge-gateway.md).
 */
export function goAway(req: ClientRequest): void {
  if (req.socket !== null) req.socket.resetAndDestroy();
  else req.destroy();
}

/** Settles with the exchange's end, or throws after `WAIT_MS`. */
export async function ended(ex: HeldExchange, what: string): Promise<"aborted" | "answered"> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([ex.closed, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: the upstream exchange was still open after the client went away`)), WAIT_MS)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** The access-log line of `requestId` (bounded wait). */
async function logLine(t: DisconnectTarget, requestId: string): Promise<Record<string, unknown>> {
  let line: Record<string, unknown> | undefined;
  await eventually(async () => {
    line = t.accessLog().find((l) => l.request_id === requestId);
    assert.ok(line !== undefined, `no access-log line for ${requestId} among ${JSON.stringify(t.accessLog().slice(-3))}`);
  }, WAIT_MS);
  return line!;
}

/** `istio_requests_total` counted the request as Envoy does a downstream disconnect (bounded wait for the export). */
async function countedAsDisconnect(t: DisconnectTarget): Promise<void> {
  await eventually(async () => {
    const dc = t.requestsTotal().filter((p) => p.labels.response_flags === "DC");
    assert.ok(dc.length > 0, "no istio_requests_total point with response_flags DC");
    for (const p of dc) assert.equal(p.labels.response_code, "0");
  }, WAIT_MS);
}

let seq = 0;
const nextId = (runtime: string, tag: string) => `dc-${runtime}-${tag}-${++seq}`;

/**
 * The client waits for the upstream to hold `n` exchanges of its request, then destroys its socket:
 * the last exchange must end aborted, the log line must say 0/DC, and no further exchange may follow.
 */
async function disconnectDuring(t: DisconnectTarget, f: DisconnectFixture, path: string, n: number): Promise<{ requestId: string; held: HeldExchange }> {
  const requestId = nextId(t.runtime, path.slice(1).replace(/\W/g, "-"));
  const client = openRequest(t.url, path, requestId);
  const held = await f.up.waitFor(requestId, n);
  goAway(client);
  assert.equal(await ended(held, path), "aborted", `${t.runtime}: the gateway kept the upstream request of ${path} open after the client went away`);
  const line = await logLine(t, requestId);
  assert.equal(line.response_code, 0, JSON.stringify(line));
  assert.equal(line.response_flags, "DC", JSON.stringify(line));
  assert.equal(line.response_code_details, "downstream_remote_disconnect");
  return { requestId, held };
}

/**
 * A request whose upstream starts an answer with `chunk` and holds the rest (chunked, or announcing
 * `length` bytes); resolves once the response's head and that chunk reached the client (bounded),
 * with the status and headers it got.
 */
async function streamingExchange(
  t: DisconnectTarget,
  f: DisconnectFixture,
  path: string,
  chunk: string,
  length?: number,
): Promise<{ requestId: string; client: ClientRequest; held: HeldExchange; status: number; headers: IncomingHttpHeaders }> {
  const requestId = nextId(t.runtime, path.slice(1).replace(/\W/g, "-"));
  const client = openRequest(t.url, path, requestId);
  const held = await f.up.waitFor(requestId, 1);
  const got = new Promise<{ status: number; headers: IncomingHttpHeaders; chunk: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${path}: no response body chunk reached the client`)), WAIT_MS);
    client.once("response", (res) => {
      res.on("error", () => undefined);
      res.once("data", (c: Buffer) => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, chunk: c.toString("utf8") });
      });
    });
  });
  held.stream(200, chunk, length);
  const first = await got;
  assert.equal(first.chunk, chunk);
  return { requestId, client, held, status: first.status, headers: first.headers };
}

/**
 * The client leaves after the first chunk of a body (chunked, or announcing `length` bytes): the
 * upstream's answer must be cut off and the line say the upstream's 200 with `DC` and the bytes
 * sent so far. Returns the response headers the client got.
 */
async function clientLeavesMidBody(t: DisconnectTarget, f: DisconnectFixture, path: string, length?: number): Promise<IncomingHttpHeaders> {
  const { requestId, client, held, status, headers } = await streamingExchange(t, f, path, "first-chunk", length);
  assert.equal(status, 200);
  goAway(client);
  assert.equal(await ended(held, path), "aborted", `${t.runtime}: the upstream's answer was not cut off after the client went away`);
  const line = await logLine(t, requestId);
  assert.equal(line.response_code, 200, JSON.stringify(line));
  assert.equal(line.response_flags, "DC", JSON.stringify(line));
  assert.equal(line.bytes_sent, "first-chunk".length, JSON.stringify(line));
  return headers;
}

/**
 * The upstream's connection closes after the first chunk of a body (chunked, or announcing
 * `length` bytes): the line must say its 200 with `UC`, Envoy's details, and the bytes sent so far.
 * Returns the client's request and when its connection closed (the gateway's reset, or never).
 */
async function upstreamBreaksOffMidBody(t: DisconnectTarget, f: DisconnectFixture, path: string, length?: number): Promise<{ client: ClientRequest; closed: Promise<void> }> {
  const { requestId, client, held } = await streamingExchange(t, f, path, "partial", length);
  const closed = new Promise<void>((resolve) => client.once("close", () => resolve()));
  held.breakOff();
  const line = await logLine(t, requestId);
  assert.equal(line.response_code, 200, JSON.stringify(line));
  assert.equal(line.response_flags, "UC", JSON.stringify(line));
  assert.equal(line.response_code_details, "upstream_reset_after_response_started{connection_termination}");
  assert.equal(line.bytes_sent, "partial".length, JSON.stringify(line));
  return { client, closed };
}

/** Bigger than the gateway's COUNTED_LENGTH_MIN: a body of this known length is counted as it streams. */
const LARGE_BODY_BYTES = 256 * 1024;

export const DOWNSTREAM_DISCONNECT_CASES: readonly DisconnectCase[] = [
  {
    name: "client goes away while the upstream holds the request (no route timeout): the upstream request is reset, logged 0 DC, counted response_code 0 / DC",
    async run(t, f) {
      const { requestId } = await disconnectDuring(t, f, "/hold/a", 1);
      await countedAsDisconnect(t);
      assert.equal(f.up.of(requestId).length, 1);
    },
  },
  {
    name: "client goes away under a route timeout and a per-try timeout: the attempt is reset (not left to the timeouts), logged 0 DC",
    async run(t, f) {
      const { requestId } = await disconnectDuring(t, f, "/timed/a", 1);
      assert.equal(f.up.of(requestId).length, 1);
    },
  },
  {
    name: "client goes away during a retry whose upstream fails slowly: that try is reset and no further try reaches the upstream",
    async run(t, f) {
      const { requestId, held } = await disconnectDuring(t, f, "/fail-once/a", 2);
      assert.equal(held.attempt, 2, "the held exchange is the retry");
      // A later request through the same route reaches the upstream after everything the
      // disconnected one started: a retry of it would have arrived by then.
      const laterId = nextId(t.runtime, "later");
      const later = openRequest(t.url, "/fail-once/later", laterId);
      const laterHeld = await f.up.waitFor(laterId, 2);
      laterHeld.answer(200, "ok");
      const status = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("no answer to the later request")), WAIT_MS);
        later.once("response", (res) => {
          res.resume();
          clearTimeout(timer);
          resolve(res.statusCode ?? 0);
        });
      });
      assert.equal(status, 200);
      assert.deepEqual(f.up.of(requestId).map((e) => e.attempt), [1, 2], "no try after the client went away");
    },
  },
  {
    name: "a mirror is fire-and-forget: the client going away resets the upstream request but not the shadow",
    async run(t, f) {
      const requestId = nextId(t.runtime, "mirrored");
      const client = openRequest(t.url, "/mirrored/a", requestId);
      const [held, shadow] = await Promise.all([f.up.waitFor(requestId, 1), f.mirror.waitFor(requestId, 1)]);
      goAway(client);
      assert.equal(await ended(held, "/mirrored"), "aborted");
      const line = await logLine(t, requestId);
      assert.equal(line.response_flags, "DC");
      // The shadow is still waiting for its answer: the mirror answers now and its exchange completes.
      shadow.answer(200, "shadow");
      assert.equal(await ended(shadow, "/mirrored shadow"), "answered");
    },
  },
  {
    name: "client goes away while the response body streams: logged with the upstream's code and DC (as Envoy), the bytes sent so far; the upstream's answer is cut off",
    async run(t, f) {
      await clientLeavesMidBody(t, f, "/hold/streaming");
      await eventually(async () => {
        assert.ok(
          t.requestsTotal().some((p) => p.labels.response_flags === "DC" && p.labels.response_code === "200"),
          "no istio_requests_total point with response_code 200 and response_flags DC",
        );
      }, WAIT_MS);
    },
  },
  {
    name: "the upstream's connection closes in the middle of its body: logged with its code, UC and upstream_reset_after_response_started (as Envoy), the bytes sent so far",
    async run(t, f) {
      goAway((await upstreamBreaksOffMidBody(t, f, "/hold/cut-off")).client);
    },
  },
  {
    name: "client goes away in the middle of a large body of known length: its Content-Length reached the client (not chunked); logged with the upstream's code and DC, the bytes sent so far",
    async run(t, f) {
      const headers = await clientLeavesMidBody(t, f, "/hold/large-known", LARGE_BODY_BYTES);
      assert.equal(headers["content-length"], String(LARGE_BODY_BYTES), JSON.stringify(headers));
      assert.equal(headers["transfer-encoding"], undefined, JSON.stringify(headers));
    },
  },
  {
    name: "the upstream's connection closes in the middle of a large body of known length: logged with its code, UC and upstream_reset_after_response_started, the bytes sent so far; the client's response ends short",
    async run(t, f) {
      const { closed } = await upstreamBreaksOffMidBody(t, f, "/hold/large-cut-off", LARGE_BODY_BYTES);
      // A body that ends before its Content-Length: the gateway resets the client's connection.
      let timer: NodeJS.Timeout | undefined;
      const short = await Promise.race([closed.then(() => "short" as const), new Promise<"open">((r) => (timer = setTimeout(() => r("open"), WAIT_MS)))]);
      clearTimeout(timer);
      assert.equal(short, "short", `${t.runtime}: the client's connection stayed open after the body broke off`);
    },
  },
  {
    name: "control: a large body of known length arrives whole with its Content-Length; its log line counts every byte, no flag",
    async run(t, f) {
      const requestId = nextId(t.runtime, "large-whole");
      const client = openRequest(t.url, "/hold/large-whole", requestId);
      const held = await f.up.waitFor(requestId, 1);
      const got = new Promise<{ status: number; headers: IncomingHttpHeaders; bytes: number }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("/hold/large-whole: the response did not end")), WAIT_MS);
        client.once("response", (res) => {
          let bytes = 0;
          res.on("data", (c: Buffer) => (bytes += c.byteLength));
          res.on("error", reject);
          res.on("end", () => {
            clearTimeout(timer);
            resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes });
          });
        });
      });
      held.answer(200, "x".repeat(LARGE_BODY_BYTES));
      const whole = await got;
      assert.equal(whole.status, 200);
      assert.equal(whole.headers["content-length"], String(LARGE_BODY_BYTES), JSON.stringify(whole.headers));
      assert.equal(whole.headers["transfer-encoding"], undefined, JSON.stringify(whole.headers));
      assert.equal(whole.bytes, LARGE_BODY_BYTES);
      const line = await logLine(t, requestId);
      assert.equal(line.response_code, 200, JSON.stringify(line));
      assert.equal(line.response_flags, "-", JSON.stringify(line));
      assert.equal(line.bytes_sent, LARGE_BODY_BYTES, JSON.stringify(line));
    },
  },
];
