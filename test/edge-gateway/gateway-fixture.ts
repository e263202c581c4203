/**
 * One gateway conformance fixture, run in workerd and on Deno: real upstream echo servers, a
 * JWKS server, the Istio YAML that wires them to the gateway, and a table of cases. A case talks
 * to the gateway only over HTTP and checks what the client and the upstreams saw.
 */
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from "jose";
import { closedPort, httpRequest, startEchoServer, type EchoServer, type HttpAnswer } from "../support/edge-gateway-upstreams.ts";

export const ISSUER = "https://issuer.strait.test";

export interface GatewayFixture {
  v1: EchoServer;
  v2: EchoServer;
  mirror: EchoServer;
  flaky: EchoServer;
  slow: EchoServer;
  downPort: number;
  jwksPort: number;
  /** A token signed by the JWKS's key. */
  token(claims?: Record<string, unknown>): Promise<string>;
  /** A token signed by another key (invalid). */
  forgedToken(): Promise<string>;
  yaml: string;
  close(): Promise<void>;
}

export async function startFixture(): Promise<GatewayFixture> {
  const [v1, v2, mirror, flaky, slow] = await Promise.all([startEchoServer("v1"), startEchoServer("v2"), startEchoServer("mirror"), startEchoServer("flaky"), startEchoServer("slow")]);
  const downPort = await closedPort();
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const other = await generateKeyPair("ES256");
  const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" };
  const jwks: Server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((r) => jwks.listen(0, "127.0.0.1", r));
  const jwksPort = (jwks.address() as AddressInfo).port;
  const sign = (key: CryptoKey, claims: Record<string, unknown>) =>
    new SignJWT(claims).setProtectedHeader({ alg: "ES256", kid: "k1" }).setIssuer(ISSUER).setSubject("alice").setAudience("shop").setIssuedAt().setExpirationTime("10m").sign(key);
  // Flaky: /flaky answers 503 twice per test key, then 200; /always-503 always 503.
  const flakyCounts = new Map<string, number>();
  flaky.reply = (r) => {
    if (r.url.startsWith("/always-503")) return { status: 503, body: "nope" };
    const key = r.url;
    const n = (flakyCounts.get(key) ?? 0) + 1;
    flakyCounts.set(key, n);
    return n <= 2 ? { status: 503, body: "try again" } : {};
  };
  slow.reply = () => ({ delayMs: 1500 });
  const yaml = fixtureYaml({ v1: v1.port, v2: v2.port, mirror: mirror.port, flaky: flaky.port, slow: slow.port, down: downPort, jwks: jwksPort });
  return {
    v1,
    v2,
    mirror,
    flaky,
    slow,
    downPort,
    jwksPort,
    token: (claims = {}) => sign(privateKey, claims),
    forgedToken: () => sign(other.privateKey, {}),
    yaml,
    close: async () => {
      await Promise.all([v1, v2, mirror, flaky, slow].map((s) => s.close()));
      jwks.closeAllConnections();
      await new Promise<void>((r) => jwks.close(() => r()));
    },
  };
}

function se(name: string, port: number, extra = ""): string {
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: ${name}, namespace: shop }
spec:
  hosts: ["${name}.shop.internal"]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{ number: 80, name: http, protocol: HTTP }]
  endpoints: [{ address: 127.0.0.1, ports: { http: ${port} }${extra} }]
---
`;
}

export function fixtureYaml(p: { v1: number; v2: number; mirror: number; flaky: number; slow: number; down: number; jwks: number }): string {
  const dest = (host: string, extra = "") => `{ destination: { host: ${host}.shop.internal${extra} } }`;
  return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: edge, namespace: shop }
spec:
  selector: { istio: ingressgateway }
  servers:
    - port: { number: 80, name: http, protocol: HTTP }
      hosts: ["*.example.com"]
    - port: { number: 80, name: http-secure, protocol: HTTP }
      hosts: ["secure.example.org"]
      tls: { httpsRedirect: true }
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: reviews, namespace: shop }
spec:
  hosts: ["reviews.shop.internal"]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{ number: 80, name: http, protocol: HTTP }]
  endpoints:
    - { address: 127.0.0.1, ports: { http: ${p.v1} }, labels: { version: v1 } }
    - { address: 127.0.0.1, ports: { http: ${p.v2} }, labels: { version: v2 } }
---
${se("mirror", p.mirror)}${se("flaky", p.flaky)}${se("slow", p.slow)}${se("down", p.down)}${se("limited", p.slow)}apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: { name: empty, namespace: shop }
spec:
  hosts: ["empty.shop.internal"]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{ number: 80, name: http, protocol: HTTP }]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: reviews, namespace: shop }
spec:
  host: reviews.shop.internal
  subsets:
    - { name: v1, labels: { version: v1 } }
    - { name: v2, labels: { version: v2 } }
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: limited, namespace: shop }
spec:
  host: limited.shop.internal
  trafficPolicy:
    connectionPool:
      http: { http2MaxRequests: 1 }
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: app, namespace: shop }
spec:
  hosts: ["app.example.com", "secure.example.org"]
  gateways: ["edge"]
  http:
    - name: header-route
      match: [{ headers: { end-user: { exact: jason } } }]
      route: [${dest("reviews", ", subset: v2")}]
    - name: claim-route
      match: [{ uri: { prefix: /claims }, headers: { "@request.auth.claims.group": { exact: beta } } }]
      route: [${dest("reviews", ", subset: v2")}]
    - name: shift
      match: [{ uri: { prefix: /shift } }]
      route:
        - { destination: { host: reviews.shop.internal, subset: v1 }, weight: 80 }
        - { destination: { host: reviews.shop.internal, subset: v2 }, weight: 20 }
    - name: delay
      match: [{ uri: { prefix: /fault/delay } }]
      fault: { delay: { fixedDelay: 50ms, percentage: { value: 100 } } }
      route: [${dest("reviews", ", subset: v1")}]
    - name: abort
      match: [{ uri: { prefix: /fault/abort } }]
      fault: { abort: { httpStatus: 418, percentage: { value: 100 } } }
      route: [${dest("reviews", ", subset: v1")}]
    - name: timeout
      match: [{ uri: { prefix: /slow } }]
      timeout: 200ms
      retries: { attempts: 0 }
      route: [${dest("slow")}]
    - name: retry
      match: [{ uri: { prefix: /flaky } }]
      retries: { attempts: 3, retryOn: 5xx, perTryTimeout: 2s }
      route: [${dest("flaky")}]
    - name: retry-exhausted
      match: [{ uri: { prefix: /always-503 } }]
      retries: { attempts: 2, retryOn: 5xx }
      route: [${dest("flaky")}]
    - name: per-try-timeout
      match: [{ uri: { prefix: /pertry } }]
      retries: { attempts: 1, retryOn: 5xx, perTryTimeout: 100ms }
      route: [${dest("slow")}]
    - name: mirror
      match: [{ uri: { prefix: /mirror } }]
      route: [${dest("reviews", ", subset: v1")}]
      mirror: { host: mirror.shop.internal }
      mirrorPercentage: { value: 100 }
    - name: cors
      match: [{ uri: { prefix: /cors } }]
      corsPolicy:
        allowOrigins: [{ exact: "https://ok.example" }]
        allowMethods: [POST, GET]
        allowHeaders: [x-custom]
        maxAge: 24h
      route: [${dest("reviews", ", subset: v1")}]
    - name: down
      match: [{ uri: { prefix: /down } }]
      route: [${dest("down")}]
    - name: empty
      match: [{ uri: { prefix: /empty } }]
      route: [${dest("empty")}]
    - name: limited
      match: [{ uri: { prefix: /limited } }]
      retries: { attempts: 0 }
      route: [${dest("limited")}]
    - name: redos
      match: [{ uri: { regex: "/redos/(a+)+$" } }]
      route: [${dest("reviews", ", subset: v1")}]
    - name: rl
      match: [{ uri: { prefix: /rl } }]
      route: [${dest("reviews", ", subset: v1")}]
    - name: admin
      match: [{ uri: { prefix: /admin } }]
      route: [${dest("reviews", ", subset: v1")}]
    - name: direct
      match: [{ uri: { exact: /direct } }]
      directResponse: { status: 200, body: { string: "hello from the edge" } }
    - name: redirect
      match: [{ uri: { prefix: /old } }]
      redirect: { uri: /new }
    - name: rewrite
      match: [{ uri: { prefix: /rw } }]
      rewrite: { uri: /rewritten, authority: internal.example }
      headers:
        request: { set: { x-added: "yes" } }
        response: { add: { x-resp: "from-gateway" } }
      route: [${dest("reviews", ", subset: v1")}]
    - name: default
      match: [{ uri: { prefix: /app } }]
      route: [${dest("reviews", ", subset: v1")}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: api, namespace: shop }
spec:
  hosts: ["api.example.com"]
  gateways: ["edge"]
  http:
    - route: [${dest("reviews", ", subset: v2")}]
---
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: jwt, namespace: shop }
spec:
  jwtRules:
    - issuer: ${ISSUER}
      jwksUri: http://127.0.0.1:${p.jwks}/jwks.json
      audiences: [shop]
      outputClaimToHeaders: [{ header: x-jwt-sub, claim: sub }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: admin-needs-jwt, namespace: shop }
spec:
  action: DENY
  rules:
    - to: [{ operation: { paths: ["/admin*"] } }]
      from: [{ source: { notRequestPrincipals: ["*"] } }]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: { name: partner, namespace: partner }
spec:
  selector: { istio: partner-gateway }
  servers:
    - port: { number: 80, name: http, protocol: HTTP }
      hosts: ["partner.example.net"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: partner-app, namespace: shop }
spec:
  hosts: ["partner.example.net"]
  gateways: ["partner/partner"]
  http:
    - route: [${dest("reviews", ", subset: v1")}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: partner-deny, namespace: partner }
spec:
  selector: { matchLabels: { istio: partner-gateway } }
  action: DENY
  rules:
    - to: [{ operation: { paths: ["/app/blocked*"] } }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: partner-get-only, namespace: partner }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: partner }]
  action: ALLOW
  rules:
    - to: [{ operation: { methods: ["GET"] } }]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: mesh-deny, namespace: strait-system }
spec:
  action: DENY
  rules:
    - to: [{ operation: { paths: ["/app/mesh-denied*"] } }]
---
apiVersion: gateway.strait.dev/v1alpha1
kind: RateLimitPolicy
metadata: { name: per-user, namespace: shop }
spec:
  targetRefs: [{ kind: VirtualService, name: app, sectionName: rl }]
  rateLimit:
    type: Global
    global:
      rules:
        - clientSelectors: [{ headers: [{ name: x-user, type: Distinct }] }]
          limit: { requests: 3, unit: Minute }
`;
}

/** How a case reaches the gateway under test. */
export interface GatewayTarget {
  url: URL;
  /** Runtime name, for messages. */
  runtime: string;
  /** Rate limiting is global (Durable Object) in workerd, per process on Deno. */
}

export type Send = (path: string, o?: { host?: string; method?: string; headers?: Record<string, string>; body?: string }) => Promise<HttpAnswer>;

export function sender(target: GatewayTarget, defaultHost = "app.example.com"): Send {
  return (path, o = {}) => httpRequest(target.url, path, { ...o, host: o.host ?? defaultHost });
}

const flags = (r: HttpAnswer) => String(r.headers["x-strait-response-flags"] ?? "");
const server = (r: HttpAnswer) => r.json<{ server: string }>().server;

export interface GatewayCase {
  name: string;
  run(send: Send, f: GatewayFixture): Promise<void>;
}

/** The conformance table: each case names what it proves. */
export const GATEWAY_CASES: GatewayCase[] = [
  {
    name: "request routing by header (end-user: jason -> v2, others -> v1)",
    async run(send) {
      assert.equal(server(await send("/app", { headers: { "end-user": "jason" } })), "v2");
      assert.equal(server(await send("/app", { headers: { "end-user": "other" } })), "v1");
    },
  },
  {
    name: "ingress host matching: wildcard server host, Host port ignored, unknown host 404 NR",
    async run(send) {
      const api = await send("/anything", { host: "api.example.com:12345" });
      assert.equal(api.status, 200);
      assert.equal(server(api), "v2");
      const nope = await send("/app", { host: "shop.other.net" });
      assert.equal(nope.status, 404);
      assert.equal(flags(nope), "NR");
      const noRoute = await send("/not-routed");
      assert.equal(noRoute.status, 404);
      assert.equal(flags(noRoute), "NR");
    },
  },
  {
    name: "httpsRedirect answers 301",
    async run(send) {
      const r = await send("/x?y=1", { host: "secure.example.org" });
      assert.equal(r.status, 301);
      assert.equal(r.headers.location, "https://secure.example.org/x?y=1");
    },
  },
  {
    name: "traffic shifting 80/20 within ±5% over 1,000 requests",
    async run(send, f) {
      const before1 = f.v1.count("/shift");
      const before2 = f.v2.count("/shift");
      for (let i = 0; i < 1000; i += 25) {
        await Promise.all(Array.from({ length: 25 }, () => send("/shift").then((r) => assert.equal(r.status, 200))));
      }
      const n1 = f.v1.count("/shift") - before1;
      const n2 = f.v2.count("/shift") - before2;
      assert.equal(n1 + n2, 1000);
      assert.ok(Math.abs(n1 / 1000 - 0.8) <= 0.05, `v1 got ${n1} of 1000`);
    },
  },
  {
    name: "fault injection: delay (DI) and abort (418 FI)",
    async run(send) {
      const d = await send("/fault/delay");
      assert.equal(d.status, 200);
      assert.equal(flags(d), "DI");
      const a = await send("/fault/abort");
      assert.equal(a.status, 418);
      assert.equal(flags(a), "FI");
      assert.equal(a.body, "fault filter abort");
    },
  },
  {
    name: "request timeout: 504 UT",
    async run(send) {
      const r = await send("/slow/t");
      assert.equal(r.status, 504);
      assert.equal(flags(r), "UT");
      assert.equal(r.body, "upstream request timeout");
    },
  },
  {
    name: "retries observed at the upstream: two 503s then 200",
    async run(send, f) {
      const key = `/flaky/${Math.random().toString(36).slice(2)}`;
      const r = await send(key);
      assert.equal(r.status, 200);
      assert.equal(f.flaky.count(key), 3);
      assert.equal(f.flaky.seen.filter((s) => s.url === key).at(-1)?.headers["x-envoy-attempt-count"], "3");
    },
  },
  {
    name: "retries exhausted: upstream 503 with URX after 1 + 2 attempts",
    async run(send, f) {
      const before = f.flaky.count("/always-503");
      const r = await send("/always-503");
      assert.equal(r.status, 503);
      assert.equal(flags(r), "URX");
      assert.equal(f.flaky.count("/always-503") - before, 3);
    },
  },
  {
    name: "per-try timeout retried then 504 UT,URX",
    async run(send, f) {
      const before = f.slow.count("/pertry");
      const r = await send("/pertry");
      assert.equal(r.status, 504);
      assert.equal(flags(r), "UT,URX");
      await f.slow.waitFor(before + 2, "/pertry");
    },
  },
  {
    name: "connect failure: 503 UF,URX after Istio's default retries",
    async run(send) {
      const r = await send("/down");
      assert.equal(r.status, 503);
      assert.equal(flags(r), "UF,URX");
    },
  },
  {
    name: "no healthy upstream: 503 UH",
    async run(send) {
      const r = await send("/empty");
      assert.equal(r.status, 503);
      assert.equal(flags(r), "UH");
    },
  },
  {
    name: "connection-pool overflow: 503 UO",
    async run(send) {
      const [a, b] = await Promise.all([send("/limited/1"), new Promise((r) => setTimeout(r, 300)).then(() => send("/limited/2"))]);
      assert.equal(a.status, 200);
      assert.equal(b.status, 503);
      assert.equal(flags(b), "UO");
    },
  },
  {
    name: "mirroring: the mirror receives a copy, the response comes from v1",
    async run(send, f) {
      const before = f.mirror.count("/mirror");
      const r = await send("/mirror/x", { method: "POST", body: "payload" });
      assert.equal(server(r), "v1");
      await f.mirror.waitFor(before + 1, "/mirror");
      assert.equal(f.mirror.seen.at(-1)?.body, "payload");
    },
  },
  {
    name: "CORS preflight answered with the configured lists",
    async run(send) {
      const r = await send("/cors", { method: "OPTIONS", headers: { origin: "https://ok.example", "access-control-request-method": "DELETE" } });
      assert.equal(r.status, 200);
      assert.equal(r.headers["access-control-allow-origin"], "https://ok.example");
      assert.equal(r.headers["access-control-allow-methods"], "POST,GET");
      assert.equal(r.headers["access-control-max-age"], "86400");
      const actual = await send("/cors", { headers: { origin: "https://ok.example" } });
      assert.equal(actual.headers["access-control-allow-origin"], "https://ok.example");
    },
  },
  {
    name: "JWT: invalid token 401; missing token anonymous; DENY without principal 403; valid token passes and routes on claims",
    async run(send, f) {
      const bad = await send("/app", { headers: { authorization: `Bearer ${await f.forgedToken()}` } });
      assert.equal(bad.status, 401);
      const anon = await send("/app");
      assert.equal(anon.status, 200);
      const denied = await send("/admin/panel");
      assert.equal(denied.status, 403);
      assert.equal(denied.body, "RBAC: access denied");
      assert.equal(flags(denied), "UAEX");
      const ok = await send("/admin/panel", { headers: { authorization: `Bearer ${await f.token()}`, "x-jwt-sub": "forged" } });
      assert.equal(ok.status, 200);
      assert.equal(ok.json<{ headers: Record<string, string> }>().headers["x-jwt-sub"], "alice");
      const beta = await send("/claims", { headers: { authorization: `Bearer ${await f.token({ group: "beta" })}` } });
      assert.equal(server(beta), "v2");
      const anonymousClaims = await send("/claims", { headers: { group: "beta" } });
      assert.equal(anonymousClaims.status, 404, "without a token, claim routes never match");
    },
  },
  {
    name: "AuthorizationPolicy per Gateway: the partner Gateway's selector DENY and targetRefs ALLOW leave the edge Gateway alone; root-namespace policies apply everywhere",
    async run(send) {
      // The edge Gateway (app.example.com): neither partner policy applies.
      assert.equal((await send("/app/blocked")).status, 200, "partner's DENY reached the edge Gateway");
      assert.equal((await send("/app/posted", { method: "POST", body: "x" })).status, 200, "partner's GET-only ALLOW reached the edge Gateway");
      // The partner Gateway: its selector DENY, and allow-nothing beyond its targetRefs ALLOW (GET only).
      const partner: Send = (path, o = {}) => send(path, { ...o, host: "partner.example.net" });
      const ok = await partner("/app/ok");
      assert.equal(ok.status, 200);
      assert.equal(server(ok), "v1");
      const blocked = await partner("/app/blocked");
      assert.equal(blocked.status, 403);
      assert.equal(flags(blocked), "UAEX");
      assert.equal((await partner("/app/ok", { method: "POST", body: "x" })).status, 403);
      // A root-namespace policy without selector is mesh-wide: both Gateways, and hosts no Gateway serves.
      assert.equal((await send("/app/mesh-denied")).status, 403);
      assert.equal((await partner("/app/mesh-denied")).status, 403);
      assert.equal((await send("/app/mesh-denied", { host: "shop.other.net" })).status, 403);
      const unknown = await send("/app/x", { host: "shop.other.net" });
      assert.equal(unknown.status, 404);
      assert.equal(flags(unknown), "NR");
    },
  },
  {
    name: "rate limit: 429 with Retry-After and RL after 3 per minute per x-user",
    async run(send) {
      const user = `u-${Math.random().toString(36).slice(2)}`;
      for (let i = 0; i < 3; i++) assert.equal((await send("/rl", { headers: { "x-user": user } })).status, 200);
      const limited = await send("/rl", { headers: { "x-user": user } });
      assert.equal(limited.status, 429);
      assert.equal(flags(limited), "RL");
      assert.ok(Number(limited.headers["retry-after"]) >= 1 && Number(limited.headers["retry-after"]) <= 60);
      assert.equal((await send("/rl", { headers: { "x-user": `${user}-other` } })).status, 200);
    },
  },
  {
    name: "ReDoS pattern (a+)+$ stays linear: a 5,000-character near-miss completes",
    async run(send) {
      const r = await send(`/redos/${"a".repeat(5000)}!`);
      assert.equal(r.status, 404);
      assert.equal(flags(r), "NR");
      const hit = await send(`/redos/${"a".repeat(5000)}`);
      assert.equal(hit.status, 200);
    },
  },
  {
    name: "direct response, redirect keeping the query, rewrite with authority and header ops",
    async run(send) {
      const d = await send("/direct");
      assert.equal(d.status, 200);
      assert.equal(d.body, "hello from the edge");
      const r = await send("/old/page?q=1");
      assert.equal(r.status, 301);
      assert.equal(r.headers.location, "http://app.example.com/new?q=1");
      const rw = await send("/rw/x?k=v");
      const seen = rw.json<{ url: string; headers: Record<string, string> }>();
      assert.equal(seen.url, "/rewritten/x?k=v");
      // workerd derives Host from the URL (Workers cannot dial an IP with another Host); the
      // authority always travels in x-forwarded-host, and in Host wherever the runtime allows.
      assert.ok(seen.headers.host === "internal.example" || seen.headers["x-forwarded-host"] === "internal.example", JSON.stringify(seen.headers));
      assert.equal(seen.headers["x-added"], "yes");
      assert.equal(rw.headers["x-resp"], "from-gateway");
    },
  },
  {
    name: "malformed requests are 4xx, never 5xx",
    async run(send) {
      const r = await send("/app/%zz");
      assert.equal(r.status, 400);
      const huge = await send("/app", { headers: { "x-big": "a".repeat(70 * 1024) } });
      assert.ok(huge.status >= 400 && huge.status < 500, `huge headers: ${huge.status}`);
    },
  },
];
