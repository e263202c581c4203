/** CORS: origin matching, preflight answers, response headers, unmatched preflights. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { corsPreflight, corsResponseHeaders, planRequest, type CorsPolicyPlan } from "../../../src/core/routing/index.ts";
import { docs, GATEWAY, gatewayTable, gatewayVs, req, service } from "./fixtures.ts";

function policy(cors: string): CorsPolicyPlan {
  const t = gatewayTable(docs(GATEWAY, gatewayVs(`  - corsPolicy: ${cors}\n    route: [{destination: {host: web}}]\n`), service("web", "shop")));
  const p = planRequest(t, req());
  assert.ok(p.kind === "forward" && p.cors !== undefined);
  return p.cors;
}

const preflight = (origin: string, method = "DELETE") => req({ method: "OPTIONS", headers: { origin, "access-control-request-method": method } });

const FULL = `
      allowOrigins: [{exact: "https://a.example.com"}, {prefix: "https://dev."}, {regex: "https://[a-z]+\\\\.shop\\\\.io"}]
      allowMethods: [POST, GET]
      allowHeaders: [x-a, x-b]
      exposeHeaders: [x-c]
      maxAge: 24h
      allowCredentials: true`;

test("cors: a preflight from an allowed origin gets 200 with the lists as configured, even for a method not listed", () => {
  const p = policy(FULL);
  const r = corsPreflight(p, preflight("https://a.example.com"));
  assert.deepEqual(r, {
    kind: "respond",
    status: 200,
    headers: [
      ["access-control-allow-origin", "https://a.example.com"],
      ["access-control-allow-credentials", "true"],
      ["access-control-allow-methods", "POST,GET"],
      ["access-control-allow-headers", "x-a,x-b"],
      ["access-control-max-age", "86400"],
    ],
  });
  assert.equal(corsPreflight(p, preflight("https://dev.example.org")).kind, "respond");
  assert.equal(corsPreflight(p, preflight("https://foo.shop.io")).kind, "respond");
  assert.equal(corsPreflight(p, preflight("https://foo.shop.io.evil")).kind, "forward", "regex is anchored");
});

test("cors: unmatched preflights are forwarded by default, answered bare with IGNORE", () => {
  assert.deepEqual(corsPreflight(policy(FULL), preflight("https://evil.example")), { kind: "forward" });
  assert.deepEqual(corsPreflight(policy(`{allowOrigins: [{exact: "https://a"}], unmatchedPreflights: IGNORE}`), preflight("https://evil.example")), { kind: "respond", status: 200, headers: [] });
});

test("cors: not a preflight without Origin or Access-Control-Request-Method, or for other methods", () => {
  const p = policy(FULL);
  assert.equal(corsPreflight(p, req({ method: "OPTIONS", headers: { origin: "https://a.example.com" } })).kind, "not-preflight");
  assert.equal(corsPreflight(p, req({ method: "OPTIONS", headers: { "access-control-request-method": "GET" } })).kind, "not-preflight");
  assert.equal(corsPreflight(p, req({ method: "GET", headers: { origin: "https://a.example.com", "access-control-request-method": "GET" } })).kind, "not-preflight");
});

test("cors: actual responses carry allow-origin, credentials and expose-headers for allowed origins only", () => {
  const p = policy(FULL);
  assert.deepEqual(corsResponseHeaders(p, req({ headers: { origin: "https://a.example.com" } })), [
    ["access-control-allow-origin", "https://a.example.com"],
    ["access-control-allow-credentials", "true"],
    ["access-control-expose-headers", "x-c"],
  ]);
  assert.deepEqual(corsResponseHeaders(p, req({ headers: { origin: "https://b.example.com" } })), []);
  assert.deepEqual(corsResponseHeaders(p, req()), []);
});

test("cors: the deprecated allowOrigin list, with * allowing any origin", () => {
  const p = policy(`{allowOrigin: ["*"], allowMethods: [GET]}`);
  assert.deepEqual(corsResponseHeaders(p, req({ headers: { origin: "https://anything" } })), [["access-control-allow-origin", "https://anything"]]);
  const q = policy(`{allowOrigin: ["https://x"]}`);
  assert.equal(corsPreflight(q, preflight("https://y")).kind, "forward");
});
