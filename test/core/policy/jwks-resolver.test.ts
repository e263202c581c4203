/**
 * The remote JWKS path against a real HTTP server on 127.0.0.1 (port 0), with
 * the platform's own fetch: caching, refresh on interval, refresh on an
 * unknown kid (rate limited), and fetch failures that never let a token in.
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { compileRequestAuthentication, createJwksResolver, type JwksResolver } from "../../../src/core/policy/index.ts";
import { clock, jwks, makeKey, sign, type TestKey } from "./jwt-fixtures.ts";
import { headers, requestAuthn } from "./policy-fixtures.ts";
import type { ManualClock } from "../../../src/core/clock.ts";

const ISS = "https://issuer.test";

/** What the JWKS server answers next: a document, a status, or silence (to hit the timeout). */
let mode: { kind: "ok"; body: string } | { kind: "status"; status: number } | { kind: "hang" } | { kind: "junk" };
let hits = 0;
let discoveryHits = 0;
let server: Server;
let base: string;
let k1: TestKey;
let k2: TestKey;

before(async () => {
  k1 = await makeKey("k1");
  k2 = await makeKey("k2", "ES256");
  server = createServer((req, res) => {
    if (req.url === "/oidc/.well-known/openid-configuration") {
      discoveryHits++;
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ issuer: `${base}/oidc`, jwks_uri: `${base}/oidc/keys` }));
      return;
    }
    if (req.url === "/bad-oidc/.well-known/openid-configuration") {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ issuer: "x", jwks_uri: "ftp://nope" }));
      return;
    }
    hits++;
    if (mode.kind === "hang") return; // never answers; the client times out
    if (mode.kind === "status") {
      res.writeHead(mode.status, { "content-type": "text/plain" }).end("nope");
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(mode.kind === "junk" ? "<html>" : mode.body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function setup(o: { path: string; timeout?: string; resolverTimeoutMs?: number }): { c: ManualClock; resolver: JwksResolver; auth: (token?: string) => Promise<string> } {
  const c = clock();
  const resolver = createJwksResolver({ clock: c, refreshIntervalMs: 5 * 60_000, minRefetchIntervalMs: 30_000, maxStaleMs: 60 * 60_000, ...(o.resolverTimeoutMs === undefined ? {} : { timeoutMs: o.resolverTimeoutMs }) });
  const authn = compileRequestAuthentication([requestAuthn({ jwtRules: [{ issuer: ISS, jwksUri: `${base}${o.path}`, ...(o.timeout === undefined ? {} : { timeout: o.timeout }) }] })], { jwks: resolver, clock: c });
  return {
    c,
    resolver,
    async auth(token) {
      const r = await authn.authenticate({ url: "/", headers: headers(token === undefined ? {} : { authorization: `Bearer ${token}` }) });
      return r.kind === "invalid" ? `invalid: ${r.message}` : r.kind === "authenticated" ? `ok: ${r.principal}` : "anonymous";
    },
  };
}

test("fetched once, cached, refreshed after the interval", async () => {
  mode = { kind: "ok", body: jwks(k1) };
  hits = 0;
  const { c, auth } = setup({ path: "/cache" });
  const token = await sign(k1, { iss: ISS, sub: "a", exp: Math.floor(c.now() / 1000) + 86400 });
  const [a, b] = await Promise.all([auth(token), auth(token)]);
  assert.equal(a, `ok: ${ISS}/a`);
  assert.equal(b, `ok: ${ISS}/a`);
  assert.equal(hits, 1, "concurrent first requests share one fetch");
  assert.equal(await auth(token), `ok: ${ISS}/a`);
  assert.equal(hits, 1, "served from cache");
  c.advance(5 * 60_000 + 1);
  // A new token (a verified token is cached per rule, as in Envoy, and needs no key lookup).
  assert.equal(await auth(await sign(k1, { iss: ISS, sub: "b", exp: Math.floor(c.now() / 1000) + 86400 })), `ok: ${ISS}/b`);
  assert.equal(hits, 2, "refreshed after the refresh interval");
});

test("an unknown kid triggers one rate-limited re-fetch (key rotation)", async () => {
  mode = { kind: "ok", body: jwks(k1) };
  hits = 0;
  const { c, auth } = setup({ path: "/rotate" });
  const exp = Math.floor(c.now() / 1000) + 86400;
  assert.equal(await auth(await sign(k1, { iss: ISS, sub: "old", exp })), `ok: ${ISS}/old`);
  assert.equal(hits, 1);
  // Within the rate limit an unknown kid does not reach the issuer.
  const rotated = await sign(k2, { iss: ISS, sub: "new", exp });
  mode = { kind: "ok", body: jwks(k1, k2) };
  assert.equal(await auth(rotated), "invalid: Jwks doesn't have key to match kid or alg from Jwt");
  assert.equal(hits, 1, "rate limited");
  c.advance(30_000);
  assert.equal(await auth(rotated), `ok: ${ISS}/new`);
  assert.equal(hits, 2, "one re-fetch for the new kid");
  // Garbage kids cannot make us hammer the issuer.
  const bogus = await sign(await makeKey("bogus"), { iss: ISS, exp });
  for (let i = 0; i < 5; i++) assert.equal(await auth(bogus), "invalid: Jwks doesn't have key to match kid or alg from Jwt");
  assert.equal(hits, 2);
});

test("a JWKS that cannot be fetched rejects every token; missing tokens stay anonymous", async () => {
  for (const m of [{ kind: "status", status: 500 }, { kind: "status", status: 404 }, { kind: "junk" }] as const) {
    mode = m;
    const { c, auth } = setup({ path: `/fail-${m.kind}` });
    const token = await sign(k1, { iss: ISS, exp: Math.floor(c.now() / 1000) + 3600 });
    assert.equal(await auth(token), "invalid: Jwks remote fetch is failed", JSON.stringify(m));
    assert.equal(await auth(), "anonymous");
  }
});

test("a server that stops answering: timeout, token rejected", async () => {
  mode = { kind: "hang" };
  const { c, auth } = setup({ path: "/hang", timeout: "200ms" });
  const token = await sign(k1, { iss: ISS, exp: Math.floor(c.now() / 1000) + 3600 });
  assert.equal(await auth(token), "invalid: Jwks remote fetch is failed");
  server.closeAllConnections();
});

test("a refresh that fails keeps the last good keys for maxStale, then rejects", async () => {
  mode = { kind: "ok", body: jwks(k1) };
  const { c, auth } = setup({ path: "/stale" });
  // A fresh token per call: verified tokens are cached and would not exercise the key set.
  const token = (n: number) => sign(k1, { iss: ISS, sub: `s${n}`, exp: Math.floor(c.now() / 1000) + 7 * 86400 });
  assert.equal(await auth(await token(1)), `ok: ${ISS}/s1`);
  mode = { kind: "status", status: 503 };
  c.advance(5 * 60_000 + 1);
  assert.equal(await auth(await token(2)), `ok: ${ISS}/s2`, "last good keys still used");
  c.advance(60 * 60_000);
  assert.equal(await auth(await token(3)), "invalid: Jwks remote fetch is failed", "too stale");
  mode = { kind: "ok", body: jwks(k1) };
  c.advance(30_000);
  assert.equal(await auth(await token(4)), `ok: ${ISS}/s4`, "recovers when the issuer is back");
});

test("prefetch warms the cache", async () => {
  mode = { kind: "ok", body: jwks(k1) };
  hits = 0;
  const { c, resolver, auth } = setup({ path: "/prefetch" });
  await resolver.prefetch(`${base}/prefetch`);
  assert.equal(hits, 1);
  mode = { kind: "status", status: 500 };
  assert.equal(await auth(await sign(k1, { iss: ISS, sub: "p", exp: Math.floor(c.now() / 1000) + 60 })), `ok: ${ISS}/p`);
  assert.equal(hits, 1);
});

test("OpenID Connect discovery when a rule has neither jwks nor jwksUri", async () => {
  mode = { kind: "ok", body: jwks(k1) };
  hits = 0;
  discoveryHits = 0;
  const c = clock();
  const resolver = createJwksResolver({ clock: c });
  const issuer = `${base}/oidc`;
  const authn = compileRequestAuthentication([requestAuthn({ jwtRules: [{ issuer }] })], { jwks: resolver, clock: c });
  const call = async (sub: string) => {
    const token = await sign(k1, { iss: issuer, sub, exp: Math.floor(c.now() / 1000) + 3600 });
    const r = await authn.authenticate({ url: "/", headers: headers({ authorization: `Bearer ${token}` }) });
    return r.kind === "authenticated" ? r.principal : r.kind === "invalid" ? `invalid: ${r.message}` : r.kind;
  };
  assert.equal(await call("a"), `${issuer}/a`);
  assert.equal(await call("b"), `${issuer}/b`);
  assert.equal(discoveryHits, 1, "discovery document cached");
  assert.equal(hits, 1, "key set cached");
  // A discovery document with a bad jwks_uri: tokens are rejected.
  const bad = compileRequestAuthentication([requestAuthn({ jwtRules: [{ issuer: `${base}/bad-oidc` }] })], { jwks: resolver, clock: c });
  const token = await sign(k1, { iss: `${base}/bad-oidc`, exp: Math.floor(c.now() / 1000) + 3600 });
  const r = await bad.authenticate({ url: "/", headers: headers({ authorization: `Bearer ${token}` }) });
  assert.deepEqual(r, { kind: "invalid", message: "Jwks remote fetch is failed" });
  // An issuer that is not a URL cannot be discovered.
  const plain = compileRequestAuthentication([requestAuthn({ jwtRules: [{ issuer: "issuer-foo" }] })], { jwks: resolver, clock: c });
  const t2 = await sign(k1, { iss: "issuer-foo", exp: Math.floor(c.now() / 1000) + 3600 });
  assert.deepEqual(await plain.authenticate({ url: "/", headers: headers({ authorization: `Bearer ${t2}` }) }), { kind: "invalid", message: "Jwks remote fetch is failed" });
});
