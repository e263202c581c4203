/**
 * An adversarial review of the node proxy's L7 path against Istio's semantics (istio-semantics.md,
 * Envoy's HTTP connection manager, router and filters as Istio configures them for sidecars and
 * waypoints), end to end: the real control worker (workerd), two real node proxies (a: the
 * caller's node, b: the workloads' node, HBONE between them) and real upstream HTTP servers on
 * 127.0.0.1:0. Deviations found in the review are pinned here next to behaviour checked and
 * found right.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from "jose";
import { TestMesh, eventually, proxyAuthorization, startEcho, viaProxy, type EchoWorkload, type ProxiedResponse, type ProxyNode } from "../support/node-proxy-mesh.ts";

const NS = "rv";
const host = (n: string) => `${n}.${NS}.svc.cluster.local`;
const ISSUER = "https://issuer.review.test";

interface Seen {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: string;
}

/**
 * The review's upstream: records every request and answers by path. `/hop` answers with
 * hop-by-hop response headers and two `set-cookie`; `/status?code=N` answers N; `/grpc?status=N`
 * answers 200 with `grpc-status: N`; `/flaky?id=X&fail=N` answers 503 to the first N requests of
 * id X; `/slow?id=X` delays the first request of id X by 5 s; `/head` answers a body of 11 bytes
 * (none on HEAD); `/cut-off` closes its connection 10 bytes into a 1000-byte body; `/bad-chunk`
 * sends a malformed chunk after a good head; anything else echoes the request as JSON.
 */
interface Kit {
  port: number;
  seen: Seen[];
  close(): Promise<void>;
}

async function startKit(name: string): Promise<Kit> {
  const seen: Seen[] = [];
  const perId = new Map<string, number>();
  const sockets = new Set<net.Socket>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const url = new URL(req.url ?? "/", "http://x");
      seen.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, rawHeaders: req.rawHeaders, body });
      const id = url.searchParams.get("id") ?? "";
      const n = (perId.get(id) ?? 0) + 1;
      perId.set(id, n);
      const json = (status: number, extra: http.OutgoingHttpHeaders = {}) => {
        const text = JSON.stringify({ workload: name, path: req.url, headers: req.headers, body });
        res.writeHead(status, { "content-type": "application/json", "content-length": String(Buffer.byteLength(text)), ...extra }).end(text);
      };
      switch (url.pathname) {
        case "/hop":
          res.setHeader("set-cookie", ["a=1; Path=/", "b=2, with comma; Path=/"]);
          res.setHeader("connection", "x-resp-hop");
          res.setHeader("x-resp-hop", "secret");
          res.setHeader("keep-alive", "timeout=5, max=7");
          res.setHeader("proxy-connection", "keep-alive");
          res.setHeader("x-kept", "yes");
          return json(200);
        case "/status":
          return json(Number(url.searchParams.get("code") ?? "200"));
        case "/no-body": {
          const code = Number(url.searchParams.get("code") ?? "204");
          res.writeHead(code, code === 304 ? { etag: '"v1"' } : {}).end();
          return;
        }
        case "/grpc":
          return json(200, { "grpc-status": url.searchParams.get("status") ?? "0" });
        case "/flaky":
          return json(n <= Number(url.searchParams.get("fail") ?? "0") ? 503 : 200);
        case "/slow":
          if (n === 1) {
            const t = setTimeout(() => json(200), 5_000);
            res.once("close", () => clearTimeout(t));
            return;
          }
          return json(200);
        case "/cut-off":
          // A head announcing 1000 bytes, 10 of them, then the connection closes.
          res.writeHead(200, { "content-type": "text/plain", "content-length": "1000" });
          res.write("0123456789", () => res.socket?.destroy());
          return;
        case "/bad-chunk":
          // A chunked body whose second chunk size is not hex: malformed HTTP after a good head.
          res.socket?.write("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\n", () => res.socket?.destroy());
          return;
        case "/head":
          res.writeHead(200, { "content-type": "text/plain", "content-length": "11" }).end(req.method === "HEAD" ? undefined : "hello world");
          return;
        default:
          return json(200);
      }
    });
  });
  // WebSocket-style upgrades: 101, then every chunk is echoed back prefixed with `kit:` (`/bad-chunk`: declined, malformed).
  server.on("upgrade", (req: http.IncomingMessage, socket: net.Socket) => {
    seen.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, rawHeaders: req.rawHeaders, body: "" });
    if (req.url?.startsWith("/bad-chunk")) {
      // Declined, with a malformed chunk after a good head.
      socket.write("HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\nZZ\r\n", () => socket.destroy());
      return;
    }
    socket.write("HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nx-kit-upgrade: yes\r\n\r\n");
    socket.on("data", (d: Buffer) => socket.write(`kit:${d.toString("utf8")}`));
    socket.on("error", () => socket.destroy());
  });
  server.keepAliveTimeout = 60_000;
  server.on("connection", (s: net.Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    seen,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

let mesh: TestMesh;
let a: ProxyNode;
let b: ProxyNode;
let logDir: string;
let kit: Kit;
let mirror: EchoWorkload;
let flakyLive: EchoWorkload;
let signingKey: CryptoKey;

function we(name: string, port: number, app: string, hbonePort: number): string {
  return `---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${name}, namespace: ${NS}, labels: {strait.io/cluster: c1, strait.io/node: b}}
spec: {address: 127.0.0.1, serviceAccount: ${app}, ports: {http: ${port}}, labels: {app: ${app}, strait.io/hbone-port: "${hbonePort}"}}
`;
}
function se(name: string): string {
  return `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: ${NS}}
spec:
  hosts: [${host(name)}]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: ${name}}}
`;
}

before(async () => {
  logDir = await mkdtemp(join(tmpdir(), "strait-review-logs-"));
  mesh = await TestMesh.start();
  kit = await startKit("kit");
  mirror = await startEcho("mirror");
  flakyLive = await startEcho("flaky-live");
  const dead = await closedPort();
  const dead2 = await closedPort();
  const pair = await generateKeyPair("ES256", { extractable: true });
  signingKey = pair.privateKey;
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256", use: "sig" }] });
  a = await mesh.startNode("c1", "a", { accessLog: join(logDir, "a.log") });
  b = await mesh.startNode("c1", "b", { accessLog: join(logDir, "b.log") });
  const hb = b.port("hbone");
  await mesh.apply(
    [
      `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: sleep, namespace: ${NS}, labels: {strait.io/cluster: c1, strait.io/node: a}}
spec: {address: 127.0.0.1, serviceAccount: sleep}
`,
      we("kit", kit.port, "kit", hb),
      we("mirror", mirror.port, "mirror", hb),
      // flaky: one endpoint whose node refuses connections (HBONE port closed), one live.
      we("flaky-dead", dead, "flaky", dead),
      we("flaky-live", flakyLive.port, "flaky", hb),
      we("gone", dead2, "gone", dead),
      se("kit"),
      se("mirror"),
      se("flaky"),
      se("gone"),
      // The kit outside the mesh: a's proxy reaches it directly (no HBONE, no peer proxy).
      `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: kit-ext, namespace: ${NS}}
spec:
  hosts: [${host("kit-ext")}]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 127.0.0.1, ports: {http: ${kit.port}}}]
`,
      `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: kit, namespace: ${NS}}
spec:
  hosts: [${host("kit")}]
  http:
  - name: cors
    match: [{uri: {prefix: /cors}}]
    corsPolicy:
      allowOrigins: [{exact: "https://app.review.test"}]
      allowMethods: [POST, GET]
      allowHeaders: [x-a]
      exposeHeaders: [x-e]
      maxAge: 24h
      allowCredentials: true
    route: [{destination: {host: ${host("kit")}}}]
  - name: abort
    match: [{uri: {prefix: /abort}}]
    fault: {abort: {httpStatus: 503, percentage: {value: 100}}}
    headers: {response: {set: {x-route-h: abort}}}
    route: [{destination: {host: ${host("kit")}}}]
  - name: no-content
    match: [{uri: {exact: /direct-204}}]
    directResponse: {status: 204, body: {string: "never sent"}}
  - name: direct
    match: [{uri: {exact: /direct}}]
    directResponse: {status: 200, body: {string: "direct body"}}
    headers: {response: {set: {x-route-h: direct}}}
  - name: retry-5xx
    match: [{uri: {prefix: /flaky}}]
    retries: {attempts: 2, retryOn: 5xx}
    route: [{destination: {host: ${host("kit")}}}]
  - name: per-try
    match: [{uri: {prefix: /slow}}]
    retries: {attempts: 1, perTryTimeout: 0.3s, retryOn: 5xx}
    route: [{destination: {host: ${host("kit")}}}]
  - name: old
    match: [{uri: {prefix: /old}}]
    redirect: {uri: /new}
  - name: rewrite
    match: [{uri: {prefix: /rw/}}]
    rewrite: {uri: /v2/}
    route: [{destination: {host: ${host("kit")}}}]
  - name: hostset
    match: [{uri: {prefix: /hostset}}]
    headers: {request: {set: {Host: renamed.review.test}}}
    route: [{destination: {host: ${host("kit")}}}]
  - name: mirrored
    match: [{uri: {prefix: /mirrored}}]
    mirror: {host: ${host("mirror")}}
    route: [{destination: {host: ${host("kit")}}}]
  - name: delayed
    match: [{uri: {prefix: /delayed}}]
    fault: {delay: {fixedDelay: 0.05s, percentage: {value: 100}}}
    route: [{destination: {host: ${host("kit")}}}]
  - name: default
    route: [{destination: {host: ${host("kit")}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: gone, namespace: ${NS}}
spec:
  hosts: [${host("gone")}]
  http:
  - name: gone
    headers: {response: {set: {x-route-h: gone}}}
    route: [{destination: {host: ${host("gone")}}}]
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: kit-permissive, namespace: ${NS}}
spec:
  selector: {matchLabels: {app: kit}}
  mtls: {mode: PERMISSIVE}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: kit-no-admin, namespace: ${NS}}
spec:
  selector: {matchLabels: {app: kit}}
  action: DENY
  rules: [{to: [{operation: {paths: ["/admin*"]}}]}]
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: kit-jwt, namespace: ${NS}}
spec:
  selector: {matchLabels: {app: kit}}
  jwtRules:
  - issuer: ${ISSUER}
    jwks: '${jwks}'
`,
    ].join(""),
  );
  await eventually(
    "config applied on both nodes",
    () => a.proxy.config.current()?.snapshot.routes.some((r) => r.host === host("gone")) === true && (b.proxy.config.current()?.snapshot.requestAuthentications.length ?? 0) > 0,
    60_000,
  );
});

after(async () => {
  await mesh?.close();
  await kit?.close();
  await mirror?.close();
  await flakyLive?.close();
  if (logDir !== undefined) await rm(logDir, { recursive: true, force: true });
});

const call = (svc: string, path: string, o: Parameters<typeof viaProxy>[3] = {}): Promise<ProxiedResponse> => viaProxy(a.port("outbound"), host(svc), path, { source: "sleep.rv", ...o });
const seenBody = (r: ProxiedResponse) => JSON.parse(r.body) as { path: string; headers: Record<string, string> };
const seenFor = (pred: (s: Seen) => boolean) => kit.seen.filter(pred);

/** Access-log lines of a node, parsed. */
async function logLines(node: "a" | "b"): Promise<Record<string, unknown>[]> {
  const text = await readFile(join(logDir, `${node}.log`), "utf8").catch(() => "");
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The access-log entry of `node` for `path` (waits until it is written). */
function logEntry(node: "a" | "b", path: string): Promise<Record<string, unknown>> {
  return eventually(`${node} logged ${path}`, async () => (await logLines(node)).find((e) => e.path === path));
}

/** One raw GET (path sent byte for byte) to a listener, connection closed after the answer; bounded. */
function rawTo(port: number, hostHeader: string, path: string): Promise<{ head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: "127.0.0.1", port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error("raw request timed out"));
    }, 15_000);
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on("close", () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("latin1");
      const i = text.indexOf("\r\n\r\n");
      resolve({ head: i < 0 ? text : text.slice(0, i), body: i < 0 ? "" : text.slice(i + 4) });
    });
    s.write(`GET ${path} HTTP/1.1\r\nhost: ${hostHeader}\r\nconnection: close\r\n\r\n`);
  });
}

/** A request with raw header lines (repeated names kept), through the outbound proxy; bounded. */
function rawCall(svc: string, path: string, headerLines: string[], body = ""): Promise<{ head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: "127.0.0.1", port: a.port("outbound") });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error("raw call timed out"));
    }, 15_000);
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    s.on("close", () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString("latin1");
      const i = text.indexOf("\r\n\r\n");
      resolve({ head: i < 0 ? text : text.slice(0, i), body: i < 0 ? "" : text.slice(i + 4) });
    });
    const lines = [
      `GET ${path} HTTP/1.1`,
      `host: ${host(svc)}`,
      `proxy-authorization: ${proxyAuthorization("sleep.rv")}`,
      "connection: close",
      ...headerLines,
      ...(body === "" ? [] : [`content-length: ${Buffer.byteLength(body)}`]),
    ];
    s.write(`${lines.join("\r\n")}\r\n\r\n${body}`);
  });
}

// ---------------------------------------------------------------------------------------------
// Deviations found by the review (each failed before its fix).
// ---------------------------------------------------------------------------------------------

test("x-envoy-attempt-count is on every upstream try, 1 on the first (Istio sets include_request_attempt_count on sidecar virtual hosts); a client's value never travels", async () => {
  const r = await call("kit", "/plain?id=attempt", { headers: { "x-envoy-attempt-count": "9" } });
  assert.equal(r.status, 200, r.body);
  assert.equal(seenBody(r).headers["x-envoy-attempt-count"], "1");
  const ok = await call("kit", "/flaky?id=attempt-retry&fail=1", { method: "POST", body: "payload-1" });
  assert.equal(ok.status, 200);
  const tries = seenFor((s) => s.path === "/flaky?id=attempt-retry&fail=1");
  assert.deepEqual(
    tries.map((t) => t.headers["x-envoy-attempt-count"]),
    ["1", "2"],
  );
});

test("x-envoy-upstream-service-time is on upstream responses (Envoy's router adds it; Istio does not suppress Envoy headers by default), not on local replies", async () => {
  const r = await call("kit", "/plain?id=service-time");
  assert.equal(r.status, 200);
  assert.match(String(r.headers["x-envoy-upstream-service-time"]), /^\d+$/);
  const direct = await call("kit", "/direct");
  assert.equal(direct.headers["x-envoy-upstream-service-time"], undefined);
});

test("x-forwarded-proto is set to the downstream scheme when absent (Envoy's connection manager), a client's value is kept (use_remote_address false on sidecars)", async () => {
  const r = await call("kit", "/plain?id=xfp");
  assert.equal(seenBody(r).headers["x-forwarded-proto"], "http");
  const kept = await call("kit", "/plain?id=xfp-kept", { headers: { "x-forwarded-proto": "https" } });
  assert.equal(seenBody(kept).headers["x-forwarded-proto"], "https");
});

test("retries exhausted on a retriable response: the last answer is returned with flag URX (Envoy sets UpstreamRetryLimitExceeded), after 1 + attempts tries", async () => {
  const r = await call("kit", "/flaky?id=urx&fail=99");
  assert.equal(r.status, 503);
  assert.equal(seenFor((s) => s.path === "/flaky?id=urx&fail=99").length, 3);
  const e = await logEntry("a", "/flaky?id=urx&fail=99");
  assert.equal(e.response_flags, "URX");
});

test("route-level response header ops apply to local replies of the route (fault abort, upstream connect failure), as Envoy finalizes every local reply with the route's response headers", async () => {
  const abort = await call("kit", "/abort");
  assert.equal(abort.status, 503);
  assert.equal(abort.headers["x-route-h"], "abort");
  assert.equal(abort.body, "fault filter abort");
  assert.equal(abort.headers["content-length"], "18", "Envoy's local replies carry a Content-Length (the abort was chunked)");
  const gone = await call("gone", "/x");
  assert.equal(gone.status, 503);
  assert.match(String(gone.headers["x-envoy-response-flags"]), /^UF/);
  assert.equal(gone.headers["x-route-h"], "gone");
});

test("corsPolicy is applied by the caller's proxy as by Envoy's CORS filter: preflight answered (lists as configured, maxAge in seconds), actual responses get allow-origin/expose/credentials, unmatched preflights forwarded", async () => {
  const before = kit.seen.length;
  const pre = await call("kit", "/cors/x", { method: "OPTIONS", headers: { origin: "https://app.review.test", "access-control-request-method": "PUT" } });
  assert.equal(pre.status, 200);
  assert.equal(pre.headers["access-control-allow-origin"], "https://app.review.test");
  assert.equal(pre.headers["access-control-allow-methods"], "POST,GET");
  assert.equal(pre.headers["access-control-allow-headers"], "x-a");
  assert.equal(pre.headers["access-control-max-age"], "86400");
  assert.equal(pre.headers["access-control-allow-credentials"], "true");
  assert.equal(kit.seen.length, before, "the preflight is answered by the proxy");
  const actual = await call("kit", "/cors/x?id=cors-actual", { headers: { origin: "https://app.review.test" } });
  assert.equal(actual.status, 200);
  assert.equal(actual.headers["access-control-allow-origin"], "https://app.review.test");
  assert.equal(actual.headers["access-control-expose-headers"], "x-e");
  assert.equal(actual.headers["access-control-allow-credentials"], "true");
  const other = await call("kit", "/cors/x?id=cors-other", { method: "OPTIONS", headers: { origin: "https://evil.test", "access-control-request-method": "GET" } });
  assert.equal(other.status, 200);
  assert.equal(other.headers["access-control-allow-origin"], undefined);
  assert.equal(seenFor((s) => s.path === "/cors/x?id=cors-other").length, 1, "an unmatched preflight goes upstream (unmatchedPreflights FORWARD)");
});

test("a 204 direct response carries no body and no Content-Length (RFC 9110 §8.6; Envoy's codec omits both)", async () => {
  const r = await rawCall("kit", "/direct-204", []);
  assert.match(r.head, /^HTTP\/1\.1 204 /);
  assert.doesNotMatch(r.head, /content-length/i);
  assert.doesNotMatch(r.head, /content-type/i);
  assert.equal(r.body, "");
});

test("TE: trailers is forwarded (Envoy keeps the trailers token of TE); other TE values are dropped", async () => {
  const r = await call("kit", "/plain?id=te", { headers: { te: "trailers" } });
  assert.equal(seenBody(r).headers.te, "trailers");
  const gz = await call("kit", "/plain?id=te-gzip", { headers: { te: "gzip" } });
  assert.equal(seenBody(gz).headers.te, undefined);
});

test("a JWT refused by RequestAuthentication is 401 with no response flag in the access log (jwt_authn sets none; UAEX is ext_authz's)", async () => {
  const other = await generateKeyPair("ES256");
  const bad = await new SignJWT({}).setProtectedHeader({ alg: "ES256", kid: "k1" }).setIssuer(ISSUER).setSubject("x").setIssuedAt().setExpirationTime("10m").sign(other.privateKey);
  const r = await call("kit", "/plain?id=jwt-bad", { headers: { authorization: `Bearer ${bad}` } });
  assert.equal(r.status, 401);
  const e = await logEntry("b", "/plain?id=jwt-bad");
  assert.equal(e.response_code, 401);
  assert.equal(e.response_flags, "-");
});

test("an upstream body that breaks off after its head is UC (Envoy: upstream_reset_after_response_started{connection_termination}), a malformed one UPE ({protocol_error}) at the proxy that read it; the caller's proxy then sees its peer's stream end early: UC", async () => {
  // The client's own view is a response cut short; only the proxies' logs are asserted.
  await rawCall("kit", "/cut-off?id=cut", []).catch(() => undefined);
  const cutB = await logEntry("b", "/cut-off?id=cut");
  assert.equal(cutB.response_code, 200, JSON.stringify(cutB));
  assert.equal(cutB.response_flags, "UC", JSON.stringify(cutB));
  const cutA = await logEntry("a", "/cut-off?id=cut");
  assert.equal(cutA.response_code, 200, JSON.stringify(cutA));
  assert.equal(cutA.response_flags, "UC", JSON.stringify(cutA));
  await rawCall("kit", "/bad-chunk?id=bad", []).catch(() => undefined);
  const badB = await logEntry("b", "/bad-chunk?id=bad");
  assert.equal(badB.response_code, 200, JSON.stringify(badB));
  assert.equal(badB.response_flags, "UPE", JSON.stringify(badB));
  const badA = await logEntry("a", "/bad-chunk?id=bad");
  assert.equal(badA.response_flags, "UC", JSON.stringify(badA));
  // Reached directly, the caller's proxy reads the upstream's bytes itself.
  await rawCall("kit-ext", "/cut-off?id=cut-ext", []).catch(() => undefined);
  assert.equal((await logEntry("a", "/cut-off?id=cut-ext")).response_flags, "UC");
  await rawCall("kit-ext", "/bad-chunk?id=bad-ext", []).catch(() => undefined);
  assert.equal((await logEntry("a", "/bad-chunk?id=bad-ext")).response_flags, "UPE");
  // A declined WebSocket handshake whose answer's body is malformed: UPE at the proxy that read it,
  // and nothing is written to the client after the head it already got (it once got a 503 appended
  // and the answer was logged 503 UF). A declined handshake's answer goes back close-delimited, so
  // the caller's proxy behind an HBONE hop reads its end as a whole answer (not asserted).
  const handshake = ["connection: Upgrade", "upgrade: websocket", "sec-websocket-version: 13", "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ=="];
  for (const [svc, id, reader] of [["kit", "ws-bad", "b"], ["kit-ext", "ws-bad-ext", "a"]] as const) {
    const got = await rawCall(svc, `/bad-chunk?id=${id}`, handshake).catch(() => undefined);
    if (got !== undefined) assert.doesNotMatch(got.body, /HTTP\/1\.1 503/, got.body);
    const e = await logEntry(reader, `/bad-chunk?id=${id}`);
    assert.equal(e.response_code, 200, JSON.stringify(e));
    assert.equal(e.response_flags, "UPE", JSON.stringify(e));
  }
});

test("the access log's request_id is the x-request-id sent upstream, also when the proxy generated it (Envoy logs %REQ(X-REQUEST-ID)% after generation)", async () => {
  const r = await call("kit", "/plain?id=reqid");
  const sent = seenBody(r).headers["x-request-id"];
  assert.match(String(sent), /^[0-9a-f-]{36}$/);
  const e = await logEntry("a", "/plain?id=reqid");
  assert.equal(e.request_id, sent);
  const eb = await logEntry("b", "/plain?id=reqid");
  assert.equal(eb.request_id, sent);
});

test("paths are normalized as Istio's default BASE normalization has Envoy do (normalize_path): routes match and upstreams get the normalized path; an encoded NUL is a 400", async () => {
  const dots = await call("kit", "/x/../rw/items?q=/../1");
  assert.equal(seenBody(dots).path, "/v2/items?q=/../1", "the rewrite route matched /rw/ after normalization; the query is not touched");
  const encoded = await call("kit", "/a/%2e%2e/plain?id=norm-encoded");
  assert.equal(seenBody(encoded).path, "/plain?id=norm-encoded");
  const before = kit.seen.length;
  const nul = await call("kit", "/a%00b");
  assert.equal(nul.status, 400);
  assert.equal(kit.seen.length, before, "never forwarded");
});

test("the destination's proxy forwards the normalized path its AuthorizationPolicy matched, so the workload sees what the policy saw (plaintext caller under PERMISSIVE)", async () => {
  const denied = await rawTo(b.port("inboundPlaintext"), host("kit"), "/public/../admin");
  assert.match(denied.head, /^HTTP\/1\.1 403 /);
  const ok = await rawTo(b.port("inboundPlaintext"), host("kit"), "/public/../plain?id=inbound-norm");
  assert.match(ok.head, /^HTTP\/1\.1 200 /);
  assert.equal(seenFor((s) => s.path === "/plain?id=inbound-norm").length, 1);
  const nul = await rawTo(b.port("inboundPlaintext"), host("kit"), "/a%00b");
  assert.match(nul.head, /^HTTP\/1\.1 400 /);
});

test("x-envoy-expected-rq-timeout-ms tells the upstream the timeout it has (Envoy's router: the per-try timeout, else the route timeout); absent without timeouts (Istio's default route timeout 0s)", async () => {
  await call("kit", "/slow?id=expected-timeout");
  const tries = seenFor((s) => s.path === "/slow?id=expected-timeout");
  assert.equal(tries[0]?.headers["x-envoy-expected-rq-timeout-ms"], "300");
  const plain = await call("kit", "/plain?id=no-timeout");
  assert.equal(seenBody(plain).headers["x-envoy-expected-rq-timeout-ms"], undefined);
});

test("the upstream gets the Host as the client wrote it (Envoy never lower-cases :authority); routing still ignores its case", async () => {
  const r = await viaProxy(a.port("outbound"), "Kit.RV.svc.cluster.local", "/plain?id=host-case", { source: "sleep.rv" });
  assert.equal(r.status, 200, r.body);
  assert.equal(seenBody(r).headers.host, "Kit.RV.svc.cluster.local");
});

/** A WebSocket handshake through a listener; after the 101 sends `message` and waits for `expect`. Bounded. */
function upgradeExchange(port: number, hostHeader: string, path: string, message: string, expect: string, extra: string[] = []): Promise<{ head: string; data: string }> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: "127.0.0.1", port });
    let buf = "";
    let head: string | undefined;
    const finish = () => {
      clearTimeout(timer);
      s.destroy();
      resolve({ head: head ?? buf, data: head === undefined ? "" : buf });
    };
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`upgrade exchange timed out; got ${JSON.stringify(head ?? buf)}`));
    }, 15_000);
    s.on("data", (d: Buffer) => {
      buf += d.toString("latin1");
      if (head === undefined) {
        const i = buf.indexOf("\r\n\r\n");
        if (i < 0) return;
        head = buf.slice(0, i);
        buf = buf.slice(i + 4);
        if (!/^HTTP\/1\.1 101 /.test(head)) return finish();
        s.write(message);
      }
      if (buf.includes(expect)) finish();
    });
    s.on("close", finish);
    s.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    const lines = [`GET ${path} HTTP/1.1`, `host: ${hostHeader}`, "connection: Upgrade", "upgrade: websocket", "sec-websocket-version: 13", "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==", ...extra];
    s.write(`${lines.join("\r\n")}\r\n\r\n`);
  });
}

test("WebSocket upgrades are proxied through both proxies (Istio sets upgrade_configs websocket on every connection manager), with the destination's AuthorizationPolicy applied to the handshake", async () => {
  const ok = await upgradeExchange(a.port("outbound"), host("kit"), "/ws?id=ws-1", "hello", "kit:hello", [`proxy-authorization: ${proxyAuthorization("sleep.rv")}`]);
  assert.match(ok.head, /^HTTP\/1\.1 101 /);
  assert.match(ok.head, /x-kit-upgrade: yes/i);
  assert.equal(ok.data, "kit:hello");
  const hs = seenFor((x) => x.path === "/ws?id=ws-1")[0]!;
  assert.equal(String(hs.headers.upgrade).toLowerCase(), "websocket");
  assert.equal(hs.headers["x-envoy-attempt-count"], "1");
  const denied = await upgradeExchange(a.port("outbound"), host("kit"), "/admin/ws", "x", "never", [`proxy-authorization: ${proxyAuthorization("sleep.rv")}`]);
  assert.match(denied.head, /^HTTP\/1\.1 403 /);
  assert.equal(seenFor((x) => x.path === "/admin/ws").length, 0);
});

test("a WebSocket handshake on a route the router answers itself gets the same local answer as a plain request: redirect, direct response (route response headers, exact body), 204 without body, no route", async () => {
  const handshake = ["connection: Upgrade", "upgrade: websocket", "sec-websocket-version: 13", "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ=="];
  // rawCall's own `connection: close` line joins these (Node reads "close, Upgrade": still an upgrade).
  const moved = await rawCall("kit", "/old/ws", handshake);
  assert.match(moved.head, /^HTTP\/1\.1 301 /);
  const location = (head: string) => /\r\nlocation: ([^\r]*)/i.exec(head)?.[1];
  assert.equal(location(moved.head), `http://${host("kit")}/new`);
  assert.equal(moved.body, "");
  const plainMoved = await rawCall("kit", "/old/ws", []);
  assert.equal(location(plainMoved.head), location(moved.head));
  assert.equal(plainMoved.body, moved.body);
  const direct = await rawCall("kit", "/direct", handshake);
  assert.match(direct.head, /^HTTP\/1\.1 200 /);
  assert.match(direct.head, /\r\nx-route-h: direct\r\n/i);
  assert.match(direct.head, /\r\ncontent-length: 11\r\n/i);
  assert.equal(direct.body, "direct body");
  const empty = await rawCall("kit", "/direct-204", handshake);
  assert.match(empty.head, /^HTTP\/1\.1 204 /);
  assert.doesNotMatch(empty.head, /content-length/i);
  assert.equal(empty.body, "");
  const nowhere = await rawCall("nosuch", "/ws", handshake);
  assert.match(nowhere.head, /^HTTP\/1\.1 404 /);
  assert.match(nowhere.head, /\r\nx-envoy-response-flags: NR\r\n/i);
  assert.equal(kit.seen.filter((x) => x.path === "/old/ws" || x.path === "/direct" || x.path === "/direct-204").length, 0);
});

test("a WebSocket handshake meets the fault filter as a plain request does: an abort is the same answer (route response headers, `fault filter abort` with its Content-Length, FI) and a delay is logged DI", async () => {
  const handshake = ["connection: Upgrade", "upgrade: websocket", "sec-websocket-version: 13", "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ=="];
  const aborted = await rawCall("kit", "/abort/ws", handshake);
  const plain = await rawCall("kit", "/abort/plain", []);
  for (const r of [aborted, plain]) {
    assert.match(r.head, /^HTTP\/1\.1 503 /);
    assert.match(r.head, /\r\nx-route-h: abort\r\n/i);
    assert.match(r.head, /\r\nx-envoy-response-flags: FI\r\n/i);
    assert.match(r.head, /\r\ncontent-length: 18\r\n/i);
    assert.equal(r.body, "fault filter abort");
  }
  assert.equal((await logEntry("a", "/abort/ws")).response_flags, "FI");
  const delayed = await upgradeExchange(a.port("outbound"), host("kit"), "/delayed/ws?id=ws-di", "hi", "kit:hi", [`proxy-authorization: ${proxyAuthorization("sleep.rv")}`]);
  assert.match(delayed.head, /^HTTP\/1\.1 101 /);
  assert.equal((await call("kit", "/delayed/plain?id=plain-di")).status, 200);
  assert.equal((await logEntry("a", "/delayed/plain?id=plain-di")).response_flags, "DI");
  assert.equal((await logEntry("a", "/delayed/ws?id=ws-di")).response_flags, "DI");
});

// ---------------------------------------------------------------------------------------------
// Behaviour checked and found right.
// ---------------------------------------------------------------------------------------------

test("already right: hop-by-hop request headers (connection, keep-alive, proxy-connection and names listed in Connection) are not forwarded; other headers are", async () => {
  const r = await rawCall("kit", "/plain?id=hop-req", ["connection: x-drop-me", "x-drop-me: 1", "keep-alive: timeout=9, max=3", "proxy-connection: keep-alive", "x-keep: 2"]);
  assert.match(r.head, /^HTTP\/1\.1 200 /);
  const s = seenFor((x) => x.path === "/plain?id=hop-req")[0]!;
  assert.equal(s.headers["x-drop-me"], undefined);
  assert.notEqual(s.headers["keep-alive"], "timeout=9, max=3");
  assert.equal(s.headers["proxy-connection"], undefined);
  assert.equal(s.headers["proxy-authorization"], undefined, "the caller's credential for the proxy stays with the proxy");
  assert.equal(s.headers["x-keep"], "2");
});

test("already right: hop-by-hop response headers are dropped both ways; several set-cookie stay separate header lines, never joined", async () => {
  const r = await rawCall("kit", "/hop", []);
  assert.match(r.head, /^HTTP\/1\.1 200 /);
  const lines = r.head.split("\r\n").slice(1);
  const cookies = lines.filter((l) => /^set-cookie:/i.test(l)).map((l) => l.slice(l.indexOf(":") + 1).trim());
  assert.deepEqual(cookies, ["a=1; Path=/", "b=2, with comma; Path=/"]);
  assert.ok(!lines.some((l) => /^x-resp-hop:/i.test(l)), "a header named in the upstream's Connection is dropped");
  assert.ok(!lines.some((l) => /^proxy-connection:/i.test(l)));
  assert.ok(!lines.some((l) => /^keep-alive: timeout=5, max=7$/i.test(l)), "the upstream's keep-alive is its own");
  assert.ok(lines.some((l) => /^x-kept: yes$/i.test(l)));
});

test("already right: repeated request headers reach the upstream with every value in order; cookies too", async () => {
  await rawCall("kit", "/plain?id=repeat", ["x-multi: one", "x-multi: two", "cookie: a=1", "cookie: b=2"]);
  const s = seenFor((x) => x.path === "/plain?id=repeat")[0]!;
  assert.equal(s.headers["x-multi"], "one, two");
  assert.equal(s.headers.cookie, "a=1; b=2");
});

test("already right: x-forwarded-for is passed through unchanged and never added by a sidecar (use_remote_address false: Envoy appends only at the edge); x-request-id is kept", async () => {
  const r = await call("kit", "/plain?id=xff", { headers: { "x-forwarded-for": "203.0.113.7", "x-request-id": "review-req-1" } });
  const h = seenBody(r).headers;
  assert.equal(h["x-forwarded-for"], "203.0.113.7");
  assert.equal(h["x-request-id"], "review-req-1");
  const none = await call("kit", "/plain?id=xff-none");
  assert.equal(seenBody(none).headers["x-forwarded-for"], undefined);
});

test("already right: Istio's default retry policy (attempts 2 on connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes, no codes): a 503 is not retried, grpc-status 14 is, a refused connection goes to another host", async () => {
  const r503 = await call("kit", "/status?code=503&id=default-503");
  assert.equal(r503.status, 503);
  assert.equal(seenFor((s) => s.path === "/status?code=503&id=default-503").length, 1, "no retry on 503 (removed from the default in istio#52111)");
  const grpc = await call("kit", "/grpc?status=14&id=default-grpc");
  assert.equal(grpc.status, 200);
  assert.equal(seenFor((s) => s.path === "/grpc?status=14&id=default-grpc").length, 3, "unavailable: 1 try + 2 retries");
  for (let i = 0; i < 6; i++) {
    const r = await call("flaky", `/plain?id=default-cf-${i}`);
    assert.equal(r.status, 200, `request ${i}: ${r.body}`);
  }
});

test("already right: a retried POST carries its whole body on every try; perTryTimeout bounds each try and a reset-class retry goes on", async () => {
  const r = await call("kit", "/flaky?id=body-retry&fail=1", { method: "POST", body: "the-body" });
  assert.equal(r.status, 200);
  const tries = seenFor((s) => s.path === "/flaky?id=body-retry&fail=1");
  assert.deepEqual(
    tries.map((t) => t.body),
    ["the-body", "the-body"],
  );
  const slow = await call("kit", "/slow?id=per-try");
  assert.equal(slow.status, 200, "the second try answers after the first timed out");
  assert.equal(seenFor((s) => s.path === "/slow?id=per-try").length, 2);
});

test("already right: rewrite and redirect keep the query string; a Host set in headers.request is an authority rewrite", async () => {
  const rw = await call("kit", "/rw/items?q=1&r=2");
  assert.equal(seenBody(rw).path, "/v2/items?q=1&r=2");
  const red = await call("kit", "/old?q=1");
  assert.equal(red.status, 301);
  assert.match(String(red.headers.location), /\/new\?q=1$/);
  const hs = await call("kit", "/hostset?id=hostset");
  assert.equal(seenBody(hs).headers.host, "renamed.review.test");
});

test("already right: a mirror without mirrorPercentage mirrors every request, with the original Host (no -shadow suffix since istio#57708)", async () => {
  await call("kit", "/mirrored?id=m1");
  const m = await eventually("the mirror got a copy", () => mirror.requests.find((x) => x.path === "/mirrored?id=m1"));
  assert.equal(m.headers.host, host("kit"));
});

test("already right: HEAD answers keep Content-Length without a body; 204 and 304 from the upstream arrive without a body", async () => {
  const head = await rawCall("kit", "/head", []);
  // rawCall sends GET; HEAD needs its own request line.
  assert.match(head.head, /^HTTP\/1\.1 200 /);
  const h = await new Promise<{ status: number; length: string | undefined; body: string }>((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port: a.port("outbound"), method: "HEAD", path: "/head", headers: { host: host("kit"), "proxy-authorization": proxyAuthorization("sleep.rv") }, agent: false, timeout: 15_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, length: res.headers["content-length"], body: Buffer.concat(chunks).toString() }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end();
  });
  assert.deepEqual(h, { status: 200, length: "11", body: "" });
  for (const code of [204, 304]) {
    const r = await rawCall("kit", `/no-body?code=${code}`, []);
    assert.match(r.head, new RegExp(`^HTTP/1\\.1 ${code} `));
    assert.equal(r.body, "");
  }
});

test("already right: response flags in the access log (FI for an abort, UF,URX after retried connect failures, NR for an unknown host), and direct responses carry the route's response headers", async () => {
  await call("kit", "/abort?log");
  const fi = await logEntry("a", "/abort?log");
  assert.equal(fi.response_flags, "FI");
  await call("gone", "/log-uf");
  const uf = await logEntry("a", "/log-uf");
  assert.equal(uf.response_flags, "UF,URX");
  const nr = await viaProxy(a.port("outbound"), "nothing.rv.svc.cluster.local", "/log-nr", { source: "sleep.rv" });
  assert.equal(nr.status, 404);
  const d = await call("kit", "/direct");
  assert.equal(d.body, "direct body");
  assert.equal(d.headers["x-route-h"], "direct");
});

test("already right: Expect: 100-continue travels upstream (Istio sets proxy_100_continue from ENABLE_100_CONTINUE_HEADERS, on by default since 1.23) and the client gets its 100 and the answer", async () => {
  const r = await new Promise<{ status: number; body: string; continued: boolean }>((resolve, reject) => {
    let continued = false;
    const req = http.request(
      {
        host: "127.0.0.1",
        port: a.port("outbound"),
        method: "POST",
        path: "/plain?id=expect",
        headers: { host: host("kit"), "proxy-authorization": proxyAuthorization("sleep.rv"), expect: "100-continue", "content-length": "7" },
        agent: false,
        timeout: 15_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), continued }));
      },
    );
    req.on("continue", () => {
      continued = true;
      req.end("payload");
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
  });
  assert.equal(r.status, 200);
  assert.equal(r.continued, true);
  const seen = seenBody({ status: r.status, headers: {}, body: r.body });
  assert.equal(seen.headers.expect, "100-continue");
  assert.equal(JSON.parse(r.body).body, "payload");
});
