/**
 * An adversarial review of the edge gateway against Istio's semantics (istio-semantics.md, Envoy's
 * and pilot's code), as one runtime-neutral table run by every runtime the gateway ships on:
 * `istio-semantics-review.test.ts` (workerd) and `deno-istio-semantics.test.ts` (`deno serve`).
 * Each case applies its own VirtualServices on its own hosts (under the Gateway `rv/review`) through
 * `POST /v1/apply`, waits until a marker route answers (the gateway picked the snapshot up), then
 * checks what the client and the real upstream echo servers saw. Deviations found in the review are
 * pinned here next to behaviour checked and found right.
 *
 * The cases run in table order and a few reuse what an earlier one applied (the hosts of the
 * local-reply and mirror cases, the RequestAuthentication of the claim-route case), as a runner's
 * tests in one file do.
 */
import assert from "node:assert/strict";
import { createServer, request as httpRequestRaw, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { gunzipSync, gzipSync } from "node:zlib";
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from "jose";
import { closedPort, loopbackServiceEntry, startEchoServer, type EchoServer, type HttpAnswer } from "../support/edge-gateway-upstreams.ts";
import { eventually } from "../support/eventually.ts";
import { accessLogLines } from "../support/gateway-access-log.ts";

const ISSUER = "https://issuer.review.test";
/** Size of the wire upstream's streamed `/big` answer. */
const BIG_BYTES = 1024 * 1024;

/** What a case may send: any `Host` (a node:http request, see `httpRequest`), method, headers and body. */
export interface ReviewRequest {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

/** How a runner reaches its gateway and the control API that configures it. */
export interface ReviewTarget {
  /** The runtime the gateway runs on, for test names and messages. */
  runtime: "workerd" | "deno";
  /**
   * The `Host` an upstream receives. Envoy sends the planned authority (the client's, or the
   * rewritten one): `"authority"` where the runtime's fetch can send a Host header. workerd's fetch
   * always derives Host from the URL (`"url"`: the endpoint's `127.0.0.1:<port>`); the planned
   * authority travels in `x-forwarded-host` on every runtime.
   */
  upstreamHost: "authority" | "url";
  /** One request to the gateway with this `Host`. */
  send(host: string, path: string, o?: ReviewRequest): Promise<HttpAnswer>;
  /** `POST /v1/apply` of Istio YAML to the control API the gateway reads its snapshot from; throws unless 200. */
  apply(yaml: string): Promise<void>;
  /** The gateway's base URL (for requests that read the body as bytes). */
  url: URL;
  /** The lines the gateway printed so far (its JSON access log among them), when the runner captures them. */
  accessLog?: () => readonly string[];
}

/** The real upstreams and the JWKS server every runner starts once, plus the YAML that wires them up. */
export interface ReviewFixture {
  up: EchoServer;
  up2: EchoServer;
  mirror: EchoServer;
  downPort: number;
  jwksPort: number;
  /**
   * `wire.rv.internal`, an upstream whose answers the cases fix header by header: under `/hdrs`,
   * two `set-cookie` and two `x-multi` lines; `/head`: `content-length: 1234` (and 1234 bytes but
   * for HEAD); `/redirect`: 302 to `/elsewhere`; `/not-modified`: 304 with an ETag; `/big`: `BIG_BYTES` (byte i = i % 251) written in
   * 64 KiB chunks without Content-Length; elsewhere JSON `{ server, url, acceptEncoding }` (the
   * Accept-Encoding it received), gzip-encoded when that accepts gzip. Every answer's JSON also
   * names the `user-agent`, `accept` and `accept-language` it received (null when absent).
   */
  wirePort: number;
  /** A token of `issuer` (default the review's issuer) signed by the JWKS's key. */
  token(claims: Record<string, unknown>, issuer?: string, expires?: string | number): Promise<string>;
  /** The Gateway `rv/review` and the ServiceEntries `up`, `up2`, `mirror` and `down` (`*.rv.internal`). */
  yaml: string;
  close(): Promise<void>;
}

/** What a case gets: the runner's target and the fixture, with the wait for a snapshot pickup. */
export interface ReviewContext extends Pick<ReviewFixture, "up" | "up2" | "mirror" | "jwksPort" | "token"> {
  runtime: ReviewTarget["runtime"];
  send: ReviewTarget["send"];
  /** A request whose answer body is kept as bytes (no decoding of any kind). */
  sendBytes(host: string, path: string, headers?: Record<string, string | string[]>, method?: string): Promise<ByteAnswer>;
  /** The `Host` `upstream` must see for a request whose planned authority is `authority` (see `ReviewTarget.upstreamHost`). */
  hostAt(upstream: EchoServer, authority: string): string;
  /** Applies `yaml` and waits (bounded) until `host` answers the marker route of `tag`. */
  applyAndWait(yaml: string, host: string, tag: string): Promise<void>;
  /** The access-log entry of the request with this `x-request-id` (waits, bounded); undefined when the runner captures no log. */
  accessLogEntry(requestId: string): Promise<Record<string, unknown> | undefined>;
}

export interface ByteAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  bytes: Buffer;
}

/** One node:http GET with this `Host`; the body as received on the wire (node:http never decodes). Bounded. */
function requestBytes(base: URL, host: string, path: string, headers: Record<string, string | string[]> = {}, method = "GET"): Promise<ByteAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpRequestRaw({ host: base.hostname, port: Number(base.port), method, path, headers: { host, ...headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, bytes: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`request ${path} timed out`)));
    req.on("error", reject);
    req.end();
  });
}

export interface ReviewCase {
  name: string;
  run(c: ReviewContext): Promise<void>;
}

export async function startReviewFixture(): Promise<ReviewFixture> {
  const [up, up2, mirror] = await Promise.all([startEchoServer("up"), startEchoServer("up2"), startEchoServer("mirror")]);
  const downPort = await closedPort();
  const wire: Server = createServer((req, res) => {
    const acceptEncoding = req.headers["accept-encoding"] ?? null;
    const sent = { userAgent: req.headers["user-agent"] ?? null, accept: req.headers.accept ?? null, acceptLanguage: req.headers["accept-language"] ?? null };
    if (req.url === "/head") {
      res.writeHead(200, { "content-type": "text/plain", "content-length": "1234" });
      res.end(req.method === "HEAD" ? undefined : "x".repeat(1234));
      return;
    }
    if (req.url === "/redirect") {
      res.writeHead(302, { location: "/elsewhere", "content-type": "text/plain" });
      res.end("moved");
      return;
    }
    if (req.url === "/not-modified") {
      res.writeHead(304, { etag: '"v1"', "cache-control": "max-age=60" });
      res.end();
      return;
    }
    if (req.url === "/big") {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      let sent = 0;
      const next = () => {
        while (sent < BIG_BYTES) {
          const chunk = Buffer.alloc(Math.min(65_536, BIG_BYTES - sent), 0);
          for (let i = 0; i < chunk.length; i++) chunk[i] = (sent + i) % 251;
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once("drain", next);
        }
        res.end();
      };
      next();
      return;
    }
    if (req.url?.startsWith("/hdrs") === true) {
      const body = JSON.stringify(sent);
      res.writeHead(200, [
        ["content-type", "application/json"],
        ["set-cookie", "a=1; Path=/; HttpOnly"],
        ["x-multi", "one"],
        ["set-cookie", "b=2, with a comma; Path=/"],
        ["x-multi", "two"],
        ["content-length", String(Buffer.byteLength(body))],
      ].flat());
      res.end(body);
      return;
    }
    const body = Buffer.from(JSON.stringify({ server: "wire", url: req.url, acceptEncoding, ...sent }));
    if (/\bgzip\b/.test(acceptEncoding ?? "")) {
      const z = gzipSync(body);
      res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip", "content-length": z.length, vary: "accept-encoding" });
      res.end(z);
    } else {
      res.writeHead(200, { "content-type": "application/json", "content-length": body.length, vary: "accept-encoding" });
      res.end(body);
    }
  });
  await new Promise<void>((r) => wire.listen(0, "127.0.0.1", r));
  const wirePort = (wire.address() as AddressInfo).port;
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const signingKey: CryptoKey = privateKey;
  const jwk = { ...(await exportJWK(publicKey)), kid: "r1", alg: "ES256", use: "sig" };
  const jwks: Server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((r) => jwks.listen(0, "127.0.0.1", r));
  const jwksPort = (jwks.address() as AddressInfo).port;
  const se = (name: string, port: number) => loopbackServiceEntry(name, "rv", port);
  const yaml = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: review, namespace: rv }
spec:
  selector: { istio: review-gateway }
  servers:
    - port: { number: 80, name: http, protocol: HTTP }
      hosts: ["*.review.test", "*.wild.test"]
---
${se("up", up.port)}${se("up2", up2.port)}${se("mirror", mirror.port)}${se("down", downPort)}${se("wire", wirePort)}`;
  return {
    up,
    up2,
    mirror,
    downPort,
    jwksPort,
    wirePort,
    token: (claims, issuer = ISSUER, expires = "10m") =>
      new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: "r1" }).setIssuer(issuer).setSubject("rev").setIssuedAt().setExpirationTime(expires).sign(signingKey),
    yaml,
    close: async () => {
      await Promise.all([up, up2, mirror].map((s) => s.close()));
      wire.closeAllConnections();
      await new Promise<void>((r) => wire.close(() => r()));
      jwks.closeAllConnections();
      await new Promise<void>((r) => jwks.close(() => r()));
    },
  };
}

/** The context a runner hands each case. */
export function reviewContext(target: ReviewTarget, f: ReviewFixture): ReviewContext {
  return {
    runtime: target.runtime,
    send: (host, path, o) => target.send(host, path, o),
    sendBytes: (host, path, headers, method) => requestBytes(target.url, host, path, headers, method),
    hostAt: (upstream, authority) => (target.upstreamHost === "authority" ? authority : upstream.address),
    up: f.up,
    up2: f.up2,
    mirror: f.mirror,
    jwksPort: f.jwksPort,
    token: (claims, issuer, expires) => f.token(claims, issuer, expires),
    async applyAndWait(yaml, host, tag) {
      await target.apply(yaml);
      await eventually(async () => {
        const r = await target.send(host, "/__ready");
        assert.equal(r.body, `ready ${tag}`);
      }, 30_000);
    },
    async accessLogEntry(requestId) {
      const lines = target.accessLog;
      if (lines === undefined) return undefined;
      let found: Record<string, unknown> | undefined;
      await eventually(async () => {
        found = accessLogLines(lines()).find((e) => e.request_id === requestId);
        assert.ok(found !== undefined, `no access-log line for ${requestId}`);
      }, 10_000);
      return found;
    },
  };
}

const flags = (r: HttpAnswer) => String(r.headers["x-strait-response-flags"] ?? "");
const seenBy = (r: HttpAnswer) => r.json<{ server: string; url: string; headers: Record<string, string> }>();

/** A first route that answers `ready <tag>`: once it does, the rest of the VS is live too. */
function marker(tag: string): string {
  return `    - match: [{ uri: { exact: /__ready } }]
      directResponse: { status: 200, body: { string: "ready ${tag}" } }
`;
}

function vs(name: string, hosts: string[], http: string, namespace = "rv"): string {
  return `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: ${name}, namespace: ${namespace} }
spec:
  hosts: [${hosts.map((h) => JSON.stringify(h)).join(", ")}]
  gateways: ["rv/review"]
  http:
${http}---
`;
}

const cases: ReviewCase[] = [];
/** Every runner runs these, in this order. */
export const ISTIO_SEMANTICS_CASES: readonly ReviewCase[] = cases;

function review(name: string, run: ReviewCase["run"]): void {
  cases.push({ name, run });
}

// ---------------------------------------------------------------------------------------------
// Deviations found by the review (each failed before its fix).
// ---------------------------------------------------------------------------------------------

review("route-level response header ops also apply to local replies of the route (fault abort, upstream connect failure)", async ({ send, applyAndWait }) => {
  // Envoy's filter manager runs the selected route's finalizeResponseHeaders on every local reply
  // (sendLocalReplyViaFilterChain), so `headers.response` of the route reaches a fault abort or a
  // router 503 as it reaches an upstream response.
  const host = "localreply.review.test";
  await applyAndWait(
    vs(
      "localreply",
      [host],
      `${marker("localreply")}    - match: [{ uri: { prefix: /abort } }]
      fault: { abort: { httpStatus: 418, percentage: { value: 100 } } }
      headers: { response: { set: { x-route: abort }, add: { x-added: "1" } } }
      route: [{ destination: { host: up.rv.internal } }]
    - match: [{ uri: { prefix: /down } }]
      retries: { attempts: 0 }
      headers: { response: { set: { x-route: down } } }
      corsPolicy: { allowOrigins: [{ exact: "https://ok.example" }] }
      route: [{ destination: { host: down.rv.internal } }]
    - match: [{ uri: { prefix: /ok } }]
      headers: { response: { set: { x-route: ok } } }
      route: [{ destination: { host: up.rv.internal } }]
`,
    ),
    host,
    "localreply",
  );
  const ok = await send(host, "/ok");
  assert.equal(ok.status, 200);
  assert.equal(ok.headers["x-route"], "ok");
  const abort = await send(host, "/abort");
  assert.equal(abort.status, 418);
  assert.equal(flags(abort), "FI");
  assert.equal(abort.headers["x-route"], "abort");
  assert.equal(abort.headers["x-added"], "1");
  // The CORS filter saw the request before the router failed: its headers are on the local reply too.
  const down = await send(host, "/down", { headers: { origin: "https://ok.example" } });
  assert.equal(down.status, 503);
  assert.equal(flags(down), "UF");
  assert.equal(down.headers["x-route"], "down");
  assert.equal(down.headers["access-control-allow-origin"], "https://ok.example");
});

review("a mirrored request carries the route's request header ops and rewrite, as Envoy copies the shadow after finalizeRequestHeaders", async ({ send, applyAndWait, up, mirror, hostAt }) => {
  const host = "mirrorops.review.test";
  await applyAndWait(
    vs(
      "mirrorops",
      [host],
      `${marker("mirrorops")}    - match: [{ uri: { prefix: /mops } }]
      rewrite: { uri: /rewritten }
      headers: { request: { set: { x-route-op: route }, remove: [x-secret] } }
      route:
        - destination: { host: up.rv.internal }
          headers: { request: { set: { x-dest-op: dest } } }
      mirror: { host: mirror.rv.internal }
`,
    ),
    host,
    "mirrorops",
  );
  const before = mirror.count("/rewritten");
  const r = await send(host, "/mops/a?q=1", { headers: { "x-secret": "s" } });
  assert.equal(r.status, 200);
  const main = seenBy(r);
  assert.equal(main.url, "/rewritten/a?q=1");
  assert.equal(main.headers["x-route-op"], "route");
  assert.equal(main.headers["x-dest-op"], "dest");
  assert.equal(main.headers["x-secret"], undefined);
  // Envoy keeps the client's authority upstream when no rewrite.authority says otherwise.
  assert.equal(main.headers.host, hostAt(up, host));
  assert.equal(main.headers["x-forwarded-host"], host);
  await mirror.waitFor(before + 1, "/rewritten");
  const shadow = mirror.seen.filter((s) => s.url.startsWith("/rewritten")).at(-1)!;
  assert.equal(shadow.url, "/rewritten/a?q=1");
  assert.equal(shadow.headers["x-route-op"], "route");
  assert.equal(shadow.headers["x-dest-op"], "dest");
  assert.equal(shadow.headers["x-secret"], undefined);
  // The shadow carries the original authority: no `-shadow` suffix since istio/istio#57708.
  assert.equal(shadow.headers.host, hostAt(mirror, host));
  assert.equal(shadow.headers["x-forwarded-host"], host);
});

review("paths are normalized as Envoy's normalize_path (Istio's BASE) before routing: an escaped unreserved character is decoded (`/%61dmin` routes and goes upstream as `/admin`), an encoded NUL is a 400", async ({ send, applyAndWait }) => {
  const host = "normalize.review.test";
  await applyAndWait(
    vs(
      "normalize",
      [host],
      `${marker("normalize")}    - match: [{ uri: { prefix: /admin } }]
      route: [{ destination: { host: up2.rv.internal } }]
    - route: [{ destination: { host: up.rv.internal } }]
`,
    ),
    host,
    "normalize",
  );
  const escaped = await send(host, "/%61dmin/x%2Dy?q=%61");
  assert.equal(escaped.status, 200);
  const seen = seenBy(escaped);
  assert.equal(seen.server, "up2", "the escaped path matched the /admin route");
  // Decoded once, unreserved characters only; the query string is left as sent.
  assert.equal(seen.url, "/admin/x-y?q=%61");
  const reserved = seenBy(await send(host, "/adm%2Fin"));
  assert.equal(reserved.server, "up", "%2F is not decoded: /adm%2Fin is not /admin");
  assert.equal(reserved.url, "/adm%2Fin");
  const nul = await send(host, "/admin%00x");
  assert.equal(nul.status, 400);
});

review("fault injection runs before CORS (Istio's filter order: fault, cors, router): a preflight on an aborting route is aborted, one on a directResponse route answered", async ({ send, applyAndWait }) => {
  const host = "faultcors.review.test";
  await applyAndWait(
    vs(
      "faultcors",
      [host],
      `${marker("faultcors")}    - match: [{ uri: { prefix: /fc } }]
      fault: { abort: { httpStatus: 418, percentage: { value: 100 } } }
      corsPolicy:
        allowOrigins: [{ exact: "https://ok.example" }]
        allowMethods: [GET]
      route: [{ destination: { host: up.rv.internal } }]
    - match: [{ uri: { prefix: /direct } }]
      corsPolicy:
        allowOrigins: [{ exact: "https://ok.example" }]
        allowMethods: [GET]
      directResponse: { status: 204 }
`,
    ),
    host,
    "faultcors",
  );
  const pre = await send(host, "/fc", { method: "OPTIONS", headers: { origin: "https://ok.example", "access-control-request-method": "GET" } });
  assert.equal(pre.status, 418);
  assert.equal(flags(pre), "FI");
  assert.equal(pre.headers["access-control-allow-origin"], undefined);
  // The CORS filter also comes before the router: a preflight on a directResponse route is answered as a preflight.
  const direct = await send(host, "/direct", { method: "OPTIONS", headers: { origin: "https://ok.example", "access-control-request-method": "GET" } });
  assert.equal(direct.status, 200);
  assert.equal(direct.headers["access-control-allow-origin"], "https://ok.example");
  assert.equal(direct.headers["access-control-allow-methods"], "GET");
});

review("VirtualServices created together on one host: Istio orders them by name, then namespace (sortConfigByCreationTime)", async ({ send, applyAndWait }) => {
  const host = "tie.review.test";
  // One apply: both get the same creationTimestamp. By name `a-tie` (namespace zz) is first; by
  // namespace first it would be `b-tie` (namespace aa).
  await applyAndWait(
    vs("a-tie", [host], `${marker("tie")}    - match: [{ uri: { prefix: /tie } }]
      route: [{ destination: { host: up.rv.internal } }]
`, "zz") +
      vs("b-tie", [host], `    - match: [{ uri: { prefix: /tie } }]
      route: [{ destination: { host: up2.rv.internal } }]
`, "aa"),
    host,
    "tie",
  );
  const r = await send(host, "/tie");
  assert.equal(r.status, 200);
  assert.equal(seenBy(r).server, "up");
});

review("redirect.port equal to the scheme's default port is left out of Location, as Istio's ApplyRedirect clears it (`Do not put explicit :80 or :443`)", async ({ send, applyAndWait }) => {
  const host = "redirport.review.test";
  await applyAndWait(
    vs(
      "redirport",
      [host],
      `${marker("redirport")}    - match: [{ uri: { prefix: /p80 } }]
      redirect: { uri: /new, port: 80 }
    - match: [{ uri: { prefix: /p443 } }]
      redirect: { uri: /new, scheme: https, port: 443 }
    - match: [{ uri: { prefix: /p8443 } }]
      redirect: { uri: /new, scheme: https, port: 8443 }
`,
    ),
    host,
    "redirport",
  );
  const p80 = await send(host, "/p80?a=1");
  assert.equal(p80.status, 301);
  assert.equal(p80.headers.location, `http://${host}/new?a=1`);
  const p443 = await send(host, "/p443");
  assert.equal(p443.headers.location, `https://${host}/new`);
  // With the port cleared Envoy keeps the request's Host as it came (its port included, the scheme being unchanged).
  const kept = await send(`${host}:8080`, "/p80");
  assert.equal(kept.headers.location, `http://${host}:8080/new`);
  // Any other port is written, replacing the Host's.
  const p8443 = await send(`${host}:8080`, "/p8443");
  assert.equal(p8443.headers.location, `https://${host}:8443/new`);
});

review("route- and destination-level header ops combine as Envoy evaluates Istio's translation: one destination = one parser (all removes first), weighted destinations = the cluster's ops, then the route's", async ({ send, applyAndWait }) => {
  const host = "hdrorder.review.test";
  await applyAndWait(
    vs(
      "hdrorder",
      [host],
      `${marker("hdrorder")}    - match: [{ uri: { prefix: /single } }]
      headers:
        request: { set: { x-a: route } }
        response: { set: { x-r: route } }
      route:
        - destination: { host: up.rv.internal }
          headers:
            request: { remove: [x-a] }
            response: { remove: [x-r] }
    - match: [{ uri: { prefix: /weighted } }]
      headers:
        request: { set: { x-b: route } }
        response: { set: { x-w: route } }
      route:
        - destination: { host: up.rv.internal }
          weight: 100
          headers:
            request: { set: { x-b: dest } }
            response: { set: { x-w: dest } }
        - destination: { host: up2.rv.internal }
          weight: 0
`,
    ),
    host,
    "hdrorder",
  );
  // One destination: Istio appends the destination's ops to the route's in one Envoy header parser, which removes before it sets.
  const single = await send(host, "/single");
  assert.equal(single.status, 200);
  assert.equal(seenBy(single).headers["x-a"], "route");
  assert.equal(single.headers["x-r"], "route");
  // Weighted destinations: Envoy's WeightedClusterEntry applies the cluster's ops, then the route's: the route's set wins.
  const weighted = await send(host, "/weighted");
  assert.equal(weighted.status, 200);
  assert.equal(seenBy(weighted).server, "up");
  assert.equal(seenBy(weighted).headers["x-b"], "route");
  assert.equal(weighted.headers["x-w"], "route");
});

review("queryParams values are percent-decoded as Envoy's PercentEncoding::decode does: `+` stays `+` (no form decoding)", async ({ send, applyAndWait }) => {
  const host = "query.review.test";
  await applyAndWait(
    vs(
      "query",
      [host],
      `${marker("query")}    - match: [{ uri: { prefix: /q }, queryParams: { v: { exact: "a+b" } } }]
      directResponse: { status: 200, body: { string: "plus" } }
    - match: [{ uri: { prefix: /q }, queryParams: { v: { exact: "a b" } } }]
      directResponse: { status: 200, body: { string: "space" } }
    - match: [{ uri: { prefix: /q }, queryParams: { n: { regex: "[0-9]+" } } }]
      directResponse: { status: 200, body: { string: "digits" } }
    - match: [{ uri: { prefix: /q }, queryParams: { p: {} } }]
      directResponse: { status: 200, body: { string: "present" } }
`,
    ),
    host,
    "query",
  );
  assert.equal((await send(host, "/q?v=a+b")).body, "plus");
  assert.equal((await send(host, "/q?v=a%2Bb")).body, "plus");
  assert.equal((await send(host, "/q?v=a%20b")).body, "space");
  // Already right: regex is fully anchored, the first value of a repeated name counts, `{}` is presence (even empty).
  assert.equal((await send(host, "/q?n=123")).body, "digits");
  assert.equal((await send(host, "/q?n=12a")).status, 404);
  assert.equal((await send(host, "/q?n=1&n=x")).body, "digits");
  assert.equal((await send(host, "/q?p")).body, "present");
});

review("JWT claim routes in Istio's bracket form `@request.auth.claims[a][b]` match (validation accepted them, routing read them as a plain header)", async ({ send, applyAndWait, token, jwksPort }) => {
  const host = "claims.review.test";
  await applyAndWait(
    `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: review-jwt, namespace: rv }
spec:
  selector: { matchLabels: { istio: review-gateway } }
  jwtRules:
    - issuer: ${ISSUER}
      jwksUri: http://127.0.0.1:${jwksPort}/jwks.json
---
` +
      vs(
        "claims",
        [host],
        `${marker("claims")}    - match: [{ uri: { prefix: /c }, headers: { "@request.auth.claims[org][team]": { exact: blue } } }]
      directResponse: { status: 200, body: { string: "bracket nested" } }
    - match: [{ uri: { prefix: /c }, headers: { "@request.auth.claims[tier]": { prefix: gold } } }]
      directResponse: { status: 200, body: { string: "bracket" } }
    - match: [{ uri: { prefix: /c }, headers: { "@request.auth.claims.org.team": { exact: red } } }]
      directResponse: { status: 200, body: { string: "dot nested" } }
    - match: [{ uri: { prefix: /c }, withoutHeaders: { "@request.auth.claims[tier]": { exact: silver } } }]
      directResponse: { status: 200, body: { string: "not silver" } }
`,
      ),
    host,
    "claims",
  );
  const auth = async (claims: Record<string, unknown>) => ({ authorization: `Bearer ${await token(claims)}` });
  assert.equal((await send(host, "/c", { headers: await auth({ org: { team: "blue" } }) })).body, "bracket nested");
  assert.equal((await send(host, "/c", { headers: await auth({ tier: "gold-plus" }) })).body, "bracket");
  // Already right: the dot form, and withoutHeaders on a claim.
  assert.equal((await send(host, "/c", { headers: await auth({ org: { team: "red" } }) })).body, "dot nested");
  assert.equal((await send(host, "/c", { headers: await auth({ tier: "bronze" }) })).body, "not silver");
  assert.equal((await send(host, "/c", { headers: await auth({ tier: "silver" }) })).status, 404);
  assert.equal((await send(host, "/c")).body, "not silver", "anonymous: no claim, withoutHeaders matches");
});

// ---------------------------------------------------------------------------------------------
// Checked and found right (kept as regression guards).
// ---------------------------------------------------------------------------------------------

review("already right: redirect (default 301, query kept, derivePort FROM_REQUEST_PORT), rewrites (exact keeps the query, uriRegexRewrite unanchored and global)", async ({ send, applyAndWait }) => {
  const host = "rw.review.test";
  await applyAndWait(
    vs(
      "rw",
      [host],
      `${marker("rw")}    - match: [{ uri: { prefix: /old } }]
      redirect: { uri: /new }
    - match: [{ uri: { prefix: /derive } }]
      redirect: { uri: /foo, derivePort: FROM_REQUEST_PORT }
    - match: [{ uri: { prefix: /tls } }]
      redirect: { uri: /foo, scheme: https, derivePort: FROM_REQUEST_PORT }
    - match: [{ uri: { exact: /exact } }]
      rewrite: { uri: /replaced }
      route: [{ destination: { host: up.rv.internal } }]
    - match: [{ uri: { prefix: /api } }]
      rewrite: { uriRegexRewrite: { match: "v1", rewrite: "v2" } }
      route: [{ destination: { host: up.rv.internal } }]
`,
    ),
    host,
    "rw",
  );
  const r = await send(host, "/old/x?q=1");
  assert.equal(r.status, 301);
  assert.equal(r.headers.location, `http://${host}/new?q=1`);
  assert.equal((await send(host, "/derive")).headers.location, `http://${host}/foo`);
  assert.equal((await send(`${host}:80`, "/derive")).headers.location, `http://${host}:80/foo`);
  assert.equal((await send(`${host}:85`, "/derive")).headers.location, `http://${host}:85/foo`);
  assert.equal((await send(host, "/tls")).headers.location, `https://${host}:80/foo`);
  assert.equal(seenBy(await send(host, "/exact?k=v")).url, "/replaced?k=v");
  assert.equal(seenBy(await send(host, "/api/v1/items/v1?v1=1")).url, "/api/v2/items/v2?v1=1");
});

review("already right: header matching (exact \"\", presence, anchored regex, names any case, withoutHeaders treats missing as \"\"), ignoreUriCase on the uri only, authority with its port", async ({ send, applyAndWait }) => {
  const host = "hm.review.test";
  await applyAndWait(
    vs(
      "hm",
      [host],
      `${marker("hm")}    - match: [{ uri: { prefix: /h }, headers: { x-empty: { exact: "" } } }]
      directResponse: { status: 200, body: { string: "empty" } }
    - match: [{ uri: { prefix: /h }, headers: { x-present: {} } }]
      directResponse: { status: 200, body: { string: "present" } }
    - match: [{ uri: { prefix: /h }, headers: { X-Re: { regex: "ab" } } }]
      directResponse: { status: 200, body: { string: "regex" } }
    - match: [{ uri: { prefix: /h }, withoutHeaders: { x-user: { regex: ".*" } } }]
      directResponse: { status: 200, body: { string: "without" } }
    - match: [{ uri: { prefix: /CASE }, ignoreUriCase: true }]
      directResponse: { status: 200, body: { string: "case" } }
    - match: [{ uri: { regex: "/RX/.*" }, ignoreUriCase: true }]
      directResponse: { status: 200, body: { string: "rx" } }
    - match: [{ uri: { prefix: /auth }, authority: { exact: "${host}:8080" } }]
      directResponse: { status: 200, body: { string: "authority" } }
`,
    ),
    host,
    "hm",
  );
  const h = (headers: Record<string, string>) => send(host, "/h", { headers: { "x-user": "u", ...headers } });
  assert.equal((await h({ "x-empty": "" })).body, "empty");
  assert.equal((await h({ "x-empty": "no" })).status, 404);
  assert.equal((await h({ "x-present": "" })).body, "present");
  assert.equal((await h({ "x-re": "ab" })).body, "regex");
  assert.equal((await h({ "x-re": "xaby" })).status, 404);
  // withoutHeaders regex ".*" matches every value, and a missing header as "": the route never applies.
  assert.equal((await send(host, "/h")).status, 404);
  assert.equal((await send(host, "/case/x")).body, "case");
  assert.equal((await send(host, "/rx/x")).status, 404);
  assert.equal((await send(host, "/RX/x")).body, "rx");
  assert.equal((await send(`${host}:8080`, "/auth")).body, "authority");
  assert.equal((await send(host, "/auth")).status, 404);
});

review("already right: the most specific virtual host wins (exact over wildcard), Host port and case ignored; mirrors without a percentage mirror everything", async ({ send, applyAndWait, mirror }) => {
  await applyAndWait(
    vs("wild-any", ["*.wild.test"], `${marker("wild")}    - route: [{ destination: { host: up2.rv.internal } }]
`) +
      vs("wild-one", ["one.wild.test"], `${marker("wild")}    - route: [{ destination: { host: up.rv.internal } }]
      mirrors:
        - destination: { host: mirror.rv.internal }
`),
    "one.wild.test",
    "wild",
  );
  assert.equal(seenBy(await send("ONE.wild.test:1234", "/x")).server, "up");
  assert.equal(seenBy(await send("two.wild.test", "/x")).server, "up2");
  const before = mirror.count("/mirrored");
  for (let i = 0; i < 5; i++) await send("one.wild.test", `/mirrored/${i}`);
  await mirror.waitFor(before + 5, "/mirrored");
});

review("already right: CORS (unmatched preflight forwarded upstream, regex origin anchored, exposeHeaders and credentials on actual responses, maxAge in seconds)", async ({ send, applyAndWait }) => {
  const host = "cors.review.test";
  await applyAndWait(
    vs(
      "cors",
      [host],
      `${marker("cors")}    - match: [{ uri: { prefix: /c } }]
      corsPolicy:
        allowOrigins: [{ regex: "https://[a-z]+\\\\.ok\\\\.example" }]
        allowMethods: [GET, POST]
        allowHeaders: [x-a, x-b]
        exposeHeaders: [x-e1, x-e2]
        allowCredentials: true
        maxAge: 90m
      route: [{ destination: { host: up.rv.internal } }]
`,
    ),
    host,
    "cors",
  );
  const pre = await send(host, "/c", { method: "OPTIONS", headers: { origin: "https://a.ok.example", "access-control-request-method": "PUT" } });
  assert.equal(pre.status, 200);
  assert.equal(pre.headers["access-control-allow-origin"], "https://a.ok.example");
  assert.equal(pre.headers["access-control-allow-methods"], "GET,POST");
  assert.equal(pre.headers["access-control-allow-headers"], "x-a,x-b");
  assert.equal(pre.headers["access-control-allow-credentials"], "true");
  assert.equal(pre.headers["access-control-max-age"], "5400");
  // The regex must match the whole origin: a longer one is not allowed, and its preflight goes upstream.
  const other = await send(host, "/c", { method: "OPTIONS", headers: { origin: "https://a.ok.example.evil", "access-control-request-method": "GET" } });
  assert.equal(other.status, 200);
  assert.equal(seenBy(other).server, "up");
  assert.equal(other.headers["access-control-allow-origin"], undefined);
  const actual = await send(host, "/c", { headers: { origin: "https://a.ok.example" } });
  assert.equal(actual.headers["access-control-allow-origin"], "https://a.ok.example");
  assert.equal(actual.headers["access-control-expose-headers"], "x-e1,x-e2");
  assert.equal(actual.headers["access-control-allow-credentials"], "true");
});

review("AuthorizationPolicy on the gateway: hosts compared with the port, notPaths, suffix paths, header presence, AUDIT never denies; a 403 carries the route's response headers", async ({ send, applyAndWait }) => {
  const host = "authz.review.test";
  const policy = (name: string, action: string, rules: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ${name}, namespace: rv }
spec:
  selector: { matchLabels: { istio: review-gateway } }
  action: ${action}
  rules:
${rules}---
`;
  await applyAndWait(
    policy("deny-port", "DENY", `    - to: [{ operation: { hosts: ["${host}:8080"], paths: ["/authz/port*"] } }]
`) +
      policy("deny-notpaths", "DENY", `    - to: [{ operation: { paths: ["/authz/np/*"], notPaths: ["/authz/np/open*"] } }]
`) +
      policy("deny-suffix", "DENY", `    - to: [{ operation: { paths: ["*.secret"] } }]
`) +
      policy("deny-header", "DENY", `    - to: [{ operation: { paths: ["/authz/hdr"] } }]
      when: [{ key: "request.headers[x-block]", values: ["*"] }]
`) +
      policy("audit-all", "AUDIT", `    - to: [{ operation: { paths: ["/authz/*"] } }]
`) +
      vs(
        "authz",
        [host],
        `${marker("authz")}    - match: [{ uri: { prefix: /authz } }]
      headers: { response: { set: { x-route: authz } } }
      route: [{ destination: { host: up.rv.internal } }]
`,
      ),
    host,
    "authz",
  );
  const denied = await send(`${host}:8080`, "/authz/port");
  assert.equal(denied.status, 403);
  assert.equal(denied.body, "RBAC: access denied");
  assert.equal(denied.headers["x-route"], "authz", "Envoy finalizes the RBAC local reply with the route's response headers");
  assert.equal((await send(host, "/authz/port")).status, 200, "hosts compares the whole :authority, port included");
  assert.equal((await send(host, "/authz/np/x")).status, 403);
  assert.equal((await send(host, "/authz/np/open/x")).status, 200);
  assert.equal((await send(host, "/authz/a.secret?x=1")).status, 403, "paths match without the query string");
  assert.equal((await send(host, "/authz/hdr", { headers: { "x-block": "" } })).status, 403, "`*` on a header means present, even empty");
  assert.equal((await send(host, "/authz/hdr")).status, 200);
});

review("rewrite.authority beats a destination's Host header set (Istio puts it in the route's host_rewrite_literal, which Envoy applies after a weighted cluster's and instead of a single destination's)", async ({ send, applyAndWait, up, hostAt }) => {
  const host = "authority.review.test";
  await applyAndWait(
    vs(
      "authority",
      [host],
      `${marker("authority")}    - match: [{ uri: { prefix: /single } }]
      rewrite: { authority: rewritten.internal }
      route:
        - destination: { host: up.rv.internal }
          headers: { request: { set: { host: dest.internal } } }
    - match: [{ uri: { prefix: /weighted } }]
      rewrite: { authority: rewritten.internal }
      route:
        - destination: { host: up.rv.internal }
          weight: 100
          headers: { request: { set: { ":authority": dest.internal } } }
        - destination: { host: up2.rv.internal }
          weight: 0
    - match: [{ uri: { prefix: /dest } }]
      route:
        - destination: { host: up.rv.internal }
          headers: { request: { set: { host: dest.internal } } }
`,
    ),
    host,
    "authority",
  );
  // The planned authority travels in x-forwarded-host on every runtime, and in Host wherever the
  // runtime's fetch can send one (workerd derives Host from the URL; see ReviewTarget.upstreamHost).
  const authorityOf = (r: HttpAnswer) => {
    const h = seenBy(r).headers;
    assert.equal(h.host, hostAt(up, String(h["x-forwarded-host"])));
    return h["x-forwarded-host"];
  };
  assert.equal(authorityOf(await send(host, "/single")), "rewritten.internal");
  assert.equal(authorityOf(await send(host, "/weighted")), "rewritten.internal");
  assert.equal(authorityOf(await send(host, "/dest")), "dest.internal");
});

review("routes after a catch-all are not generated (pilot BuildHTTPRoutesForVirtualService stops at the first catch-all), so moving catch-alls last does not make them reachable", async ({ send, applyAndWait }) => {
  const host = "catchall.review.test";
  const host2 = "catchall2.review.test";
  await applyAndWait(
    vs(
      "catchall",
      [host],
      `${marker("catchall")}    - match: [{ uri: { prefix: /a } }]
      route: [{ destination: { host: up2.rv.internal } }]
    - route: [{ destination: { host: up.rv.internal } }]
    - match: [{ uri: { prefix: /c } }]
      route: [{ destination: { host: up2.rv.internal } }]
`,
    ) +
      vs(
        "catchall2",
        [host2],
        `${marker("catchall")}    - match: [{ uri: { prefix: / } }, { headers: { x-d: { exact: "1" } } }]
      route: [{ destination: { host: up.rv.internal } }]
    - match: [{ uri: { prefix: /late } }]
      route: [{ destination: { host: up2.rv.internal } }]
`,
      ),
    host,
    "catchall",
  );
  assert.equal(seenBy(await send(host, "/a")).server, "up2");
  assert.equal(seenBy(await send(host, "/c")).server, "up", "the /c route comes after a catch-all: Istio never generates it");
  assert.equal(seenBy(await send(host2, "/late")).server, "up", "a catch-all match entry ends the VS's routes too");
});

review("already right: RequestAuthentication token locations and outputs (access_token param removed, Authorization stripped, fromHeaders prefix, forwardOriginalToken, nested outputClaimToHeaders, unknown issuer and expired tokens 401)", async ({ send, applyAndWait, token, jwksPort }) => {
  const host = "jwt.review.test";
  const ISSUER2 = "https://issuer2.review.test";
  await applyAndWait(
    `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: review-jwt-2, namespace: rv }
spec:
  selector: { matchLabels: { istio: review-gateway } }
  jwtRules:
    - issuer: ${ISSUER2}
      jwksUri: http://127.0.0.1:${jwksPort}/jwks.json
      fromHeaders: [{ name: x-auth, prefix: "Token " }]
      forwardOriginalToken: true
      outputClaimToHeaders: [{ header: x-team, claim: org.team }]
---
` +
      vs(
        "jwt",
        [host],
        `${marker("jwt")}    - match: [{ uri: { prefix: /j } }]
      route: [{ destination: { host: up.rv.internal } }]
`,
      ),
    host,
    "jwt",
  );
  const t1 = await token({});
  const viaParam = await send(host, `/j?a=1&access_token=${t1}&b=2`);
  assert.equal(viaParam.status, 200);
  assert.equal(seenBy(viaParam).url, "/j?a=1&b=2");
  const viaHeader = await send(host, "/j", { headers: { authorization: `Bearer ${t1}` } });
  assert.equal(viaHeader.status, 200);
  assert.equal(seenBy(viaHeader).headers.authorization, undefined);
  const t2 = await token({ org: { team: "green" } }, ISSUER2);
  const custom = await send(host, "/j", { headers: { "x-auth": `Token ${t2}`, "x-team": "forged" } });
  assert.equal(custom.status, 200);
  assert.equal(seenBy(custom).headers["x-auth"], `Token ${t2}`);
  assert.equal(seenBy(custom).headers["x-team"], "green");
  assert.equal((await send(host, "/j", { headers: { authorization: `Bearer ${await token({}, "https://unknown.example")}` } })).status, 401);
  assert.equal((await send(host, "/j", { headers: { authorization: `Bearer ${await token({}, ISSUER, Math.floor(Date.now() / 1000) - 3600)}` } })).status, 401);
  // A token of the second issuer where only the first rule looks (Authorization) fails that rule: 401.
  assert.equal((await send(host, "/j", { headers: { authorization: `Bearer ${t2}` } })).status, 401);
});

review("withoutHeaders on a claim: a missing claim never matches the inverted metadata matcher's string match, so the route applies (no empty-string treatment, which is for headers only)", async ({ send, applyAndWait, token }) => {
  const host = "claimsw.review.test";
  await applyAndWait(
    vs(
      "claimsw",
      [host],
      `${marker("claimsw")}    - match: [{ uri: { prefix: /w }, withoutHeaders: { "@request.auth.claims.tier": { regex: ".*" } } }]
      directResponse: { status: 200, body: { string: "no tier claim" } }
`,
    ),
    host,
    "claimsw",
  );
  assert.equal((await send(host, "/w")).body, "no tier claim", "anonymous");
  assert.equal((await send(host, "/w", { headers: { authorization: `Bearer ${await token({ other: "x" })}` } })).body, "no tier claim");
  assert.equal((await send(host, "/w", { headers: { authorization: `Bearer ${await token({ tier: "gold" })}` } })).status, 404);
});

review("CORS preflight as Envoy's CORS filter answers it: allowMethods/allowHeaders \"*\" echo the request's, and IGNORE answers an unmatched origin with the policy's lists but no allow-origin", async ({ send, applyAndWait, up }) => {
  const host = "corsstar.review.test";
  await applyAndWait(
    vs(
      "corsstar",
      [host],
      `${marker("corsstar")}    - match: [{ uri: { prefix: /star } }]
      corsPolicy:
        allowOrigins: [{ exact: "https://ok.example" }]
        allowMethods: ["*"]
        allowHeaders: ["*"]
      route: [{ destination: { host: up.rv.internal } }]
    - match: [{ uri: { prefix: /ignore } }]
      corsPolicy:
        allowOrigins: [{ exact: "https://ok.example" }]
        allowMethods: [GET]
        allowHeaders: [x-a]
        maxAge: 60s
        unmatchedPreflights: IGNORE
      route: [{ destination: { host: up.rv.internal } }]
`,
    ),
    host,
    "corsstar",
  );
  const star = await send(host, "/star", { method: "OPTIONS", headers: { origin: "https://ok.example", "access-control-request-method": "PATCH", "access-control-request-headers": "x-one,x-two" } });
  assert.equal(star.status, 200);
  assert.equal(star.headers["access-control-allow-methods"], "PATCH");
  assert.equal(star.headers["access-control-allow-headers"], "x-one,x-two");
  const before = up.count("/ignore");
  const ignored = await send(host, "/ignore", { method: "OPTIONS", headers: { origin: "https://other.example", "access-control-request-method": "GET" } });
  assert.equal(ignored.status, 200);
  assert.equal(up.count("/ignore"), before, "IGNORE answers at the gateway");
  assert.equal(ignored.headers["access-control-allow-origin"], undefined);
  assert.equal(ignored.headers["access-control-allow-methods"], "GET");
  assert.equal(ignored.headers["access-control-allow-headers"], "x-a");
  assert.equal(ignored.headers["access-control-max-age"], "60");
});

review("jwt_authn skips only real CORS preflights (Origin and Access-Control-Request-Method both non-empty): an OPTIONS with an empty Origin and a bad token is 401", async ({ send, token }) => {
  const host = "jwt.review.test";
  const bad = `Bearer ${await token({}, "https://unknown.example")}`;
  const empty = await send(host, "/j", { method: "OPTIONS", headers: { origin: "", "access-control-request-method": "GET", authorization: bad } });
  assert.equal(empty.status, 401);
  const emptyMethod = await send(host, "/j", { method: "OPTIONS", headers: { origin: "https://ok.example", "access-control-request-method": "", authorization: bad } });
  assert.equal(emptyMethod.status, 401);
  // A real preflight carries no credentials and is not checked.
  const real = await send(host, "/j", { method: "OPTIONS", headers: { origin: "https://ok.example", "access-control-request-method": "GET", authorization: bad } });
  assert.notEqual(real.status, 401);
});

review("x-envoy-attempt-count is on every upstream try, 1 on the first (Istio sets include_request_attempt_count on gateway virtual hosts); a client's value never travels", async ({ send, mirror }) => {
  const host = "localreply.review.test";
  const r = await send(host, "/ok/attempt", { headers: { "x-envoy-attempt-count": "7" } });
  assert.equal(r.status, 200);
  assert.equal(seenBy(r).headers["x-envoy-attempt-count"], "1");
  const before = mirror.count("/rewritten");
  await send("mirrorops.review.test", "/mops/attempt", { headers: { "x-envoy-attempt-count": "7" } });
  await mirror.waitFor(before + 1, "/rewritten");
  assert.equal(mirror.seen.filter((s) => s.url.startsWith("/rewritten")).at(-1)!.headers["x-envoy-attempt-count"], "1", "the shadow is copied after the count is set");
});

review("the upstream's Content-Encoding and body pass through as the upstream sent them (Istio configures no compressor or decompressor filter): no Accept-Encoding is added, a gzip answer reaches the client gzip-encoded, an identity answer is not compressed", async ({ sendBytes, applyAndWait }) => {
  const host = "encoding.review.test";
  await applyAndWait(
    vs(
      "encoding",
      [host],
      `${marker("encoding")}    - match: [{ uri: { prefix: /gz } }]
      route: [{ destination: { host: wire.rv.internal } }]
    - match: [{ uri: { prefix: /plain } }]
      route: [{ destination: { host: up.rv.internal } }]
`,
    ),
    host,
    "encoding",
  );
  const gz = await sendBytes(host, "/gz/a", { "accept-encoding": "gzip" });
  assert.equal(gz.status, 200);
  assert.equal(gz.headers["content-encoding"], "gzip");
  if (gz.headers["content-length"] !== undefined) assert.equal(Number(gz.headers["content-length"]), gz.bytes.length);
  assert.deepEqual(JSON.parse(gunzipSync(gz.bytes).toString("utf8")), { server: "wire", url: "/gz/a", acceptEncoding: "gzip", userAgent: null, accept: null, acceptLanguage: null });
  // A client that accepts no encoding: the upstream sees none either, and answers identity.
  const bare = await sendBytes(host, "/gz/b");
  assert.equal(bare.status, 200);
  assert.equal(bare.headers["content-encoding"], undefined);
  assert.deepEqual(JSON.parse(bare.bytes.toString("utf8")), { server: "wire", url: "/gz/b", acceptEncoding: null, userAgent: null, accept: null, acceptLanguage: null });
  // An identity answer to a client that accepts gzip stays identity: the proxy does not compress.
  const plain = await sendBytes(host, "/plain", { "accept-encoding": "gzip" });
  assert.equal(plain.status, 200);
  assert.equal(plain.headers["content-encoding"], undefined);
  assert.equal(JSON.parse(plain.bytes.toString("utf8")).server, "up");
});

review("upstream response headers reach the client as sent: several set-cookie stay separate lines (never joined; a cookie value may hold a comma), repeated headers keep their values in order; request headers the client did not send (user-agent, accept, accept-language) are not added", async ({ sendBytes, applyAndWait }) => {
  const host = "wirehdrs.review.test";
  await applyAndWait(
    vs(
      "wirehdrs",
      [host],
      `${marker("wirehdrs")}    - match: [{ uri: { prefix: /hdrs } }]
      route: [{ destination: { host: wire.rv.internal } }]
`,
    ),
    host,
    "wirehdrs",
  );
  const r = await sendBytes(host, "/hdrs");
  assert.equal(r.status, 200);
  assert.deepEqual(r.headers["set-cookie"], ["a=1; Path=/; HttpOnly", "b=2, with a comma; Path=/"]);
  // node:http joins repeated lines of other headers with ", ": one value each, in the upstream's order.
  assert.equal(r.headers["x-multi"], "one, two");
  assert.deepEqual(JSON.parse(r.bytes.toString("utf8")), { userAgent: null, accept: null, acceptLanguage: null });
  const withUa = await sendBytes(host, "/hdrs", { "user-agent": "client/1.0", accept: "text/plain", "accept-language": "fr" });
  assert.deepEqual(JSON.parse(withUa.bytes.toString("utf8")), { userAgent: "client/1.0", accept: "text/plain", acceptLanguage: "fr" });
});

review("bodies as the router passes them: HEAD answers keep the upstream's Content-Length with no body, a 304 keeps its validators and has no body, a 1 MiB answer streamed without Content-Length and a 256 KiB request body arrive whole", async ({ send, sendBytes, applyAndWait }) => {
  const host = "bodies.review.test";
  await applyAndWait(
    vs(
      "bodies",
      [host],
      `${marker("bodies")}    - match: [{ uri: { prefix: /post } }]
      route: [{ destination: { host: up.rv.internal } }]
    - route: [{ destination: { host: wire.rv.internal } }]
`,
    ),
    host,
    "bodies",
  );
  const head = await sendBytes(host, "/head", {}, "HEAD");
  assert.equal(head.status, 200);
  assert.equal(head.headers["content-length"], "1234");
  assert.equal(head.bytes.length, 0);
  const notModified = await sendBytes(host, "/not-modified", { "if-none-match": '"v1"' });
  assert.equal(notModified.status, 304);
  assert.equal(notModified.headers.etag, '"v1"');
  assert.equal(notModified.headers["cache-control"], "max-age=60");
  assert.equal(notModified.bytes.length, 0);
  const big = await sendBytes(host, "/big");
  assert.equal(big.status, 200);
  assert.equal(big.bytes.length, BIG_BYTES);
  let wrong = -1;
  for (let i = 0; i < big.bytes.length && wrong < 0; i++) if (big.bytes[i] !== i % 251) wrong = i;
  assert.equal(wrong, -1, "every byte of the streamed answer as the upstream wrote it");
  const payload = "p".repeat(256 * 1024);
  const post = await send(host, "/post", { method: "POST", headers: { "content-type": "text/plain" }, body: payload });
  assert.equal(post.status, 200);
  const seen = post.json<{ server: string; body: string }>();
  assert.equal(seen.server, "up");
  assert.equal(seen.body.length, payload.length);
  assert.ok(seen.body === payload);
});

review("an upstream redirect goes back to the client as it is: Envoy follows none (Istio sets no internal_redirect_policy), so Location and body are the upstream's and the target is never fetched", async ({ sendBytes, applyAndWait }) => {
  const host = "upredirect.review.test";
  await applyAndWait(
    vs(
      "upredirect",
      [host],
      `${marker("upredirect")}    - route: [{ destination: { host: wire.rv.internal } }]
`,
    ),
    host,
    "upredirect",
  );
  const r = await sendBytes(host, "/redirect");
  assert.equal(r.status, 302);
  assert.equal(r.headers.location, "/elsewhere");
  assert.equal(r.bytes.toString("utf8"), "moved");
});

review("repeated request headers reach the upstream with every value in order, and several Cookie lines stay one cookie list (`a=1; b=2`, as Envoy joins cookie crumbs with `; `, never `, `)", async ({ sendBytes, applyAndWait }) => {
  const host = "reqhdrs.review.test";
  await applyAndWait(
    vs(
      "reqhdrs",
      [host],
      `${marker("reqhdrs")}    - route: [{ destination: { host: up.rv.internal } }]
`,
    ),
    host,
    "reqhdrs",
  );
  const r = await sendBytes(host, "/c", { cookie: ["a=1", "b=2"], "x-multi": ["one", "two"] });
  assert.equal(r.status, 200);
  const seen = JSON.parse(r.bytes.toString("utf8")) as { headers: Record<string, string> };
  // node:http (the upstream) joins repeated cookie lines with "; " and other headers with ", ".
  assert.equal(seen.headers.cookie, "a=1; b=2");
  assert.equal(seen.headers["x-multi"], "one, two");
});

review("without a tracing collector the gateway takes no part in traces, as Envoy without a tracing provider: the client's traceparent and tracestate reach the upstream exactly as sent, none is added when the client sent none; the access log names the client's trace", async ({ send, applyAndWait, accessLogEntry }) => {
  // A span id that nothing records would name a parent no backend knows and cut the upstream's
  // spans off from the client's trace; the review runners configure no OTLP endpoint.
  const host = "trace.review.test";
  await applyAndWait(
    vs(
      "trace",
      [host],
      `${marker("trace")}    - route: [{ destination: { host: up.rv.internal } }]
`,
    ),
    host,
    "trace",
  );
  const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  const withTrace = await send(host, "/t", { headers: { traceparent, tracestate: "congo=t61rcWkgMzE", "x-request-id": "trace-case-1" } });
  assert.equal(withTrace.status, 200);
  const seen = withTrace.json<{ headers: Record<string, string | undefined> }>().headers;
  assert.equal(seen.traceparent, traceparent);
  assert.equal(seen.tracestate, "congo=t61rcWkgMzE");
  const without = await send(host, "/t", { headers: { "x-request-id": "trace-case-2" } });
  assert.equal(without.status, 200);
  const seen2 = without.json<{ headers: Record<string, string | undefined> }>().headers;
  assert.equal(seen2.traceparent, undefined);
  assert.equal(seen2.tracestate, undefined);
  // The access log names the client's trace, or none (runners that capture the log).
  const logged = await accessLogEntry("trace-case-1");
  if (logged !== undefined) {
    assert.equal(logged.trace_id, "0af7651916cd43dd8448eb211c80319c");
    assert.equal((await accessLogEntry("trace-case-2"))?.trace_id, null);
  }
});

review("x-request-id: a sane client id travels upstream as sent, otherwise a generated UUID; neither is returned to the client (Envoy's default always_set_request_id_in_response: false; RESPONSE_REQUEST_ID=on returns it)", async ({ send }) => {
  // The route of the case above (trace.review.test).
  const host = "trace.review.test";
  const given = await send(host, "/id", { headers: { "x-request-id": "client-id-1" } });
  assert.equal(given.status, 200);
  assert.equal(given.json<{ headers: Record<string, string | undefined> }>().headers["x-request-id"], "client-id-1");
  assert.equal(given.headers["x-request-id"], undefined);
  const generated = await send(host, "/id");
  assert.equal(generated.status, 200);
  assert.match(generated.json<{ headers: Record<string, string | undefined> }>().headers["x-request-id"] ?? "", /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.equal(generated.headers["x-request-id"], undefined);
  // A local reply (no route for the path's host) carries none either.
  const nr = await send("no-such-host.review.test", "/id");
  assert.equal(nr.status, 404);
  assert.equal(nr.headers["x-request-id"], undefined);
});
