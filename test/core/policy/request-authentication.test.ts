import { before, test } from "node:test";
import assert from "node:assert/strict";
import { decodeJwt, base64url } from "jose";
import {
  applyAuthnResultToAuthz,
  compileAuthorization,
  compileRequestAuthentication,
  createJwksResolver,
  withoutQueryParams,
  type AuthnResult,
  type RequestAuthenticator,
} from "../../../src/core/policy/index.ts";
import type { JWTRule } from "../../../src/core/config/kinds/request-authentication.ts";
import { clock, jwks, makeHmacKey, makeKey, NOW_S, sign, type TestKey } from "./jwt-fixtures.ts";
import { headers, requestAuthn } from "./policy-fixtures.ts";

const ISS = "testing@secure.istio.io";
const OTHER = "https://other.example";
let k1: TestKey;
let k2: TestKey;
let ec: TestKey;
let stranger: TestKey;

before(async () => {
  k1 = await makeKey("k1");
  k2 = await makeKey("k2");
  ec = await makeKey("ec1", "ES256");
  stranger = await makeKey("k1"); // same kid as k1, different key
});

/** A resolver that must never be used: these rules carry inline JWKS. */
const noRemote = createJwksResolver({ clock: clock(), fetch: () => Promise.reject(new Error("no network in this test")) });

function authn(rules: JWTRule[], o: { clockSkewSeconds?: number } = {}): RequestAuthenticator {
  return compileRequestAuthentication([requestAuthn({ jwtRules: rules })], { jwks: noRemote, clock: clock(), forWorkload: "foo/httpbin", ...o });
}

function rule(extra: Partial<JWTRule> = {}): JWTRule {
  return { issuer: ISS, jwks: jwks(k1, k2, ec), ...extra };
}

async function run(a: RequestAuthenticator, h: Record<string, string>, url = "/headers", method = "GET"): Promise<AuthnResult> {
  return a.authenticate({ method, url, headers: headers(h) });
}

function expectAuthenticated(r: AuthnResult): Extract<AuthnResult, { kind: "authenticated" }> {
  assert.equal(r.kind, "authenticated", JSON.stringify(r));
  return r as Extract<AuthnResult, { kind: "authenticated" }>;
}

function expectInvalid(r: AuthnResult, message: string): void {
  assert.equal(r.kind, "invalid", JSON.stringify(r));
  assert.equal((r as { message: string }).message, message);
}

test("valid bearer token: principal iss/sub, claims, token removed upstream", async () => {
  const token = await sign(k1, { iss: ISS, sub: ISS, foo: "bar", aud: "a1" });
  const r = expectAuthenticated(await run(authn([rule()]), { authorization: `Bearer ${token}` }));
  assert.equal(r.principal, `${ISS}/${ISS}`);
  assert.equal(r.issuer, ISS);
  assert.equal(r.subject, ISS);
  assert.deepEqual(r.audiences, ["a1"]);
  assert.equal(r.claims["foo"], "bar");
  assert.deepEqual(r.requestHeaders, [{ op: "remove", name: "authorization" }]);
  assert.deepEqual(r.removeQueryParams, []);
});

test("ES256 keys work too", async () => {
  const r = expectAuthenticated(await run(authn([rule()]), { authorization: `Bearer ${await sign(ec, { iss: ISS, sub: "ec-user" })}` }));
  assert.equal(r.principal, `${ISS}/ec-user`);
});

test("HS256 with an oct key in inline jwks (Envoy accepts it)", async () => {
  const h = await makeHmacKey("h1");
  const a = authn([{ issuer: ISS, jwks: JSON.stringify({ keys: [h.jwk] }) }]);
  expectAuthenticated(await run(a, { authorization: `Bearer ${await sign(h, { iss: ISS, sub: "s" })}` }));
});

test("forwardOriginalToken keeps the token", async () => {
  const r = expectAuthenticated(await run(authn([rule({ forwardOriginalToken: true })]), { authorization: `Bearer ${await sign(k1, { iss: ISS, sub: "s" })}` }));
  assert.deepEqual(r.requestHeaders, []);
});

test("no token is anonymous, not an error", async () => {
  const r = await run(authn([rule()]), {});
  assert.deepEqual(r, { kind: "anonymous", requestHeaders: [] });
});

test("a non-Bearer Authorization header is not a token location (anonymous)", async () => {
  assert.equal((await run(authn([rule()]), { authorization: "Basic dXNlcjpwYXNz" })).kind, "anonymous");
  // The prefix is case-sensitive, as in Envoy.
  assert.equal((await run(authn([rule()]), { authorization: `bearer ${await sign(k1, { iss: ISS })}` })).kind, "anonymous");
});

test("invalid tokens are 401s with Envoy's messages", async () => {
  const a = authn([rule()]);
  expectInvalid(await run(a, { authorization: "Bearer deadbeef" }), "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections");
  expectInvalid(await run(a, { authorization: "Bearer " }), "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections");
  expectInvalid(await run(a, { authorization: `Bearer ${await sign(k1, { iss: OTHER, sub: "s" })}` }), "Jwt issuer is not configured");
  expectInvalid(await run(a, { authorization: `Bearer ${await sign(k1, { iss: ISS, exp: NOW_S - 3600 })}` }), "Jwt is expired");
  expectInvalid(await run(a, { authorization: `Bearer ${await sign(k1, { iss: ISS, nbf: NOW_S + 3600 })}` }), "Jwt not yet valid");
  expectInvalid(await run(a, { authorization: `Bearer ${await sign(stranger, { iss: ISS, sub: "s" })}` }), "Jwt verification fails");
  expectInvalid(await run(a, { authorization: `Bearer ${await sign(await makeKey("unknown-kid"), { iss: ISS })}` }), "Jwks doesn't have key to match kid or alg from Jwt");
});

test("tampered payload fails the signature check", async () => {
  const token = await sign(k1, { iss: ISS, sub: "alice" });
  const [h, , s] = token.split(".");
  const forged = `${h}.${base64url.encode(JSON.stringify({ iss: ISS, sub: "admin", exp: NOW_S + 60 }))}.${s}`;
  expectInvalid(await run(authn([rule()]), { authorization: `Bearer ${forged}` }), "Jwt verification fails");
});

test("alg none is never accepted", async () => {
  const unsigned = `${base64url.encode(JSON.stringify({ alg: "none", typ: "JWT" }))}.${base64url.encode(JSON.stringify({ iss: ISS, sub: "s" }))}.`;
  expectInvalid(await run(authn([rule()]), { authorization: `Bearer ${unsigned}` }), "Jwt verification fails");
});

test("60 s clock skew by default, configurable", async () => {
  const token = await sign(k1, { iss: ISS, exp: NOW_S - 30 });
  expectAuthenticated(await run(authn([rule()]), { authorization: `Bearer ${token}` }));
  expectInvalid(await run(authn([rule()], { clockSkewSeconds: 10 }), { authorization: `Bearer ${token}` }), "Jwt is expired");
});

test("audiences: any listed audience is accepted, others refused", async () => {
  const a = authn([rule({ audiences: ["api", "web"] })]);
  expectAuthenticated(await run(a, { authorization: `Bearer ${await sign(k1, { iss: ISS, aud: ["x", "web"] })}` }));
  expectInvalid(await run(a, { authorization: `Bearer ${await sign(k1, { iss: ISS, aud: "other" })}` }), "Audiences in Jwt are not allowed");
  expectInvalid(await run(a, { authorization: `Bearer ${await sign(k1, { iss: ISS })}` }), "Audiences in Jwt are not allowed");
});

test("default locations include the access_token query parameter, removed upstream", async () => {
  const token = await sign(k1, { iss: ISS, sub: "q" });
  const r = expectAuthenticated(await run(authn([rule()]), {}, `/headers?a=1&access_token=${token}&b=2`));
  assert.equal(r.principal, `${ISS}/q`);
  assert.deepEqual(r.removeQueryParams, ["access_token"]);
  assert.equal(withoutQueryParams(`/headers?a=1&access_token=${token}&b=2`, r.removeQueryParams), "/headers?a=1&b=2");
  assert.equal(withoutQueryParams(`/headers?access_token=${token}`, r.removeQueryParams), "/headers");
});

test("fromHeaders with a custom name and prefix; default locations are then off", async () => {
  const a = authn([rule({ fromHeaders: [{ name: "X-Jwt-Assertion", prefix: "Token " }] })]);
  const token = await sign(k1, { iss: ISS, sub: "h" });
  const r = expectAuthenticated(await run(a, { "x-jwt-assertion": `Token ${token}` }));
  assert.deepEqual(r.requestHeaders, [{ op: "remove", name: "x-jwt-assertion" }]);
  assert.equal((await run(a, { authorization: `Bearer ${token}` })).kind, "anonymous");
});

test("fromHeaders without a prefix takes the whole value", async () => {
  const a = authn([rule({ fromHeaders: [{ name: "x-token" }] })]);
  expectAuthenticated(await run(a, { "x-token": await sign(k1, { iss: ISS }) }));
});

test("fromParams and fromCookies", async () => {
  const token = await sign(k1, { iss: ISS, sub: "p" });
  const p = expectAuthenticated(await run(authn([rule({ fromParams: ["my_token"] })]), {}, `/x?my_token=${token}`));
  assert.deepEqual(p.removeQueryParams, ["my_token"]);
  const c = expectAuthenticated(await run(authn([rule({ fromCookies: ["session"] })]), { cookie: `theme=dark; session=${token}` }));
  // Envoy does not strip cookies.
  assert.deepEqual(c.requestHeaders, []);
  assert.deepEqual(c.removeQueryParams, []);
});

test("outputPayloadToHeader carries the base64url payload segment", async () => {
  const token = await sign(k1, { iss: ISS, sub: "o", groups: ["g1"] });
  const r = expectAuthenticated(await run(authn([rule({ outputPayloadToHeader: "x-jwt-payload" })]), { authorization: `Bearer ${token}`, "x-jwt-payload": "forged" }));
  const set = r.requestHeaders.find((op) => op.op === "set" && op.name === "x-jwt-payload");
  assert.ok(set !== undefined && set.op === "set");
  assert.equal(set.value, token.split(".")[1]);
  assert.deepEqual(JSON.parse(new TextDecoder().decode(base64url.decode(set.value))), decodeJwt(token));
  // The forged client value is removed before the real one is set.
  assert.deepEqual(r.requestHeaders[0], { op: "remove", name: "x-jwt-payload" });
});

test("outputClaimToHeaders: strings, numbers, booleans, nested; lists and missing claims give no header", async () => {
  const a = authn([
    rule({
      outputClaimToHeaders: [
        { header: "x-sub", claim: "sub" },
        { header: "x-level", claim: "level" },
        { header: "x-ratio", claim: "ratio" },
        { header: "x-admin", claim: "admin" },
        { header: "x-team", claim: "org.team" },
        { header: "x-groups", claim: "groups" },
        { header: "x-missing", claim: "nope" },
      ],
    }),
  ]);
  const token = await sign(k1, { iss: ISS, sub: "alice", level: 3, ratio: 1.5, admin: false, org: { team: "core" }, groups: ["a", "b"] });
  const r = expectAuthenticated(await run(a, { authorization: `Bearer ${token}`, "x-missing": "client value", "x-sub": "mallory" }));
  const sets = Object.fromEntries(r.requestHeaders.filter((o) => o.op === "set").map((o) => [o.name, (o as { value: string }).value]));
  assert.deepEqual(sets, { "x-sub": "alice", "x-level": "3", "x-ratio": "1.500000", "x-admin": "false", "x-team": "core" });
  const removed = r.requestHeaders.filter((o) => o.op === "remove").map((o) => o.name);
  for (const h of ["x-sub", "x-missing", "x-groups", "authorization"]) assert.ok(removed.includes(h), `${h} removed`);
  // Removals come first so a set value always wins over a client's.
  const firstSet = r.requestHeaders.findIndex((o) => o.op === "set");
  assert.ok(r.requestHeaders.slice(firstSet).every((o) => o.op === "set"));
});

test("claim output headers are stripped from anonymous requests too", async () => {
  const a = authn([rule({ outputClaimToHeaders: [{ header: "x-sub", claim: "sub" }], outputPayloadToHeader: "x-payload" })]);
  assert.deepEqual(await run(a, { "x-sub": "mallory", "x-payload": "forged" }), {
    kind: "anonymous",
    requestHeaders: [
      { op: "remove", name: "x-payload" },
      { op: "remove", name: "x-sub" },
    ],
  });
});

test("space-delimited claims become lists for policies (scope, permission, spaceDelimitedClaims)", async () => {
  const a = authn([rule({ spaceDelimitedClaims: ["roles"] })]);
  const token = await sign(k1, { iss: ISS, scope: "read write", permission: "p1 p2", roles: "admin dev", other: "x y" });
  const r = expectAuthenticated(await run(a, { authorization: `Bearer ${token}` }));
  assert.deepEqual(r.claims["scope"], ["read", "write"]);
  assert.deepEqual(r.claims["permission"], ["p1", "p2"]);
  assert.deepEqual(r.claims["roles"], ["admin", "dev"]);
  assert.equal(r.claims["other"], "x y");
});

test("several tokens for one rule: all must be valid", async () => {
  const a = authn([rule()]);
  const good = await sign(k1, { iss: ISS, sub: "a" });
  const bad = await sign(k1, { iss: ISS, exp: NOW_S - 3600 });
  expectAuthenticated(await run(a, { authorization: `Bearer ${good}` }, `/x?access_token=${good}`));
  expectInvalid(await run(a, { authorization: `Bearer ${good}` }, `/x?access_token=${bad}`), "Jwt is expired");
});

test("two issuers sharing the default locations: either issuer's token is accepted", async () => {
  const a = authn([rule(), { issuer: OTHER, jwks: jwks(k2) }]);
  const r1 = expectAuthenticated(await run(a, { authorization: `Bearer ${await sign(k1, { iss: ISS, sub: "one" })}` }));
  assert.equal(r1.principal, `${ISS}/one`);
  const r2 = expectAuthenticated(await run(a, { authorization: `Bearer ${await sign(k2, { iss: OTHER, sub: "two" })}` }));
  assert.equal(r2.principal, `${OTHER}/two`);
  expectInvalid(await run(a, { authorization: `Bearer ${await sign(k1, { iss: "https://nobody", sub: "x" })}` }), "Jwt issuer is not configured");
});

test("two issuers at different locations (Istio: any rule that validates lets the request pass)", async () => {
  const a = authn([rule({ fromHeaders: [{ name: "x-a" }] }), { issuer: OTHER, jwks: jwks(k2), fromHeaders: [{ name: "x-b" }] }]);
  const goodA = await sign(k1, { iss: ISS, sub: "a" });
  const goodB = await sign(k2, { iss: OTHER, sub: "b" });
  const expiredB = await sign(k2, { iss: OTHER, sub: "b", exp: NOW_S - 3600 });
  // Both valid: the first rule by issuer order names the principal.
  const both = expectAuthenticated(await run(a, { "x-a": goodA, "x-b": goodB }));
  assert.equal(both.principal, `${OTHER}/b`);
  // A token of issuer A at B's location fails B and is missing for A: rejected.
  expectInvalid(await run(a, { "x-b": goodA }), "Jwt issuer is not configured");
  // Istio's requirement is {A OR B OR AND(A?, B?)}: a fully valid A passes even next to an invalid B.
  const mixed = expectAuthenticated(await run(a, { "x-a": goodA, "x-b": expiredB }));
  assert.equal(mixed.principal, `${ISS}/a`);
  // The invalid token is not removed (only validated tokens are consumed).
  assert.deepEqual(mixed.requestHeaders, [{ op: "remove", name: "x-a" }]);
});

test("a single rule whose one token is invalid is rejected even if other headers look fine", async () => {
  const a = authn([rule({ fromHeaders: [{ name: "x-a" }, { name: "x-b" }] })]);
  expectInvalid(await run(a, { "x-a": await sign(k1, { iss: ISS }), "x-b": "garbage" }), "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections");
});

test("CORS preflights bypass JWT checks (Istio sets bypass_cors_preflight)", async () => {
  const a = authn([rule()]);
  const r = await run(a, { authorization: "Bearer garbage", origin: "https://app.example", "access-control-request-method": "POST" }, "/x", "OPTIONS");
  assert.equal(r.kind, "anonymous");
  expectInvalid(await run(a, { authorization: "Bearer garbage" }, "/x", "OPTIONS"), "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections");
});

test("policies for other workloads do not apply; no rules means anonymous", async () => {
  const a = compileRequestAuthentication([requestAuthn({ jwtRules: [rule()] }, { appliesTo: ["foo/other"] })], { jwks: noRemote, clock: clock(), forWorkload: "foo/httpbin" });
  assert.equal(a.active, false);
  assert.equal((await run(a, { authorization: "Bearer garbage" })).kind, "anonymous");
});

test("an unusable inline jwks is reported and its issuer's tokens are rejected", async () => {
  const a = compileRequestAuthentication(
    [{ source: { kind: "RequestAuthentication", namespace: "foo", name: "bad" }, scope: "workload", appliesTo: ["foo/httpbin"], spec: { jwtRules: [{ issuer: ISS, jwks: "{not json" }] } }],
    { jwks: noRemote, clock: clock() },
  );
  assert.equal(a.problems.length, 1);
  expectInvalid(await run(a, { authorization: `Bearer ${await sign(k1, { iss: ISS })}` }), "Jwks doesn't have key to match kid or alg from Jwt");
  assert.equal((await run(a, {})).kind, "anonymous");
});

test("the authenticated result feeds AuthorizationPolicy request.auth", async () => {
  const r = await run(authn([rule()]), { authorization: `Bearer ${await sign(k1, { iss: ISS, sub: ISS, groups: ["group1", "group2"], azp: "cli" })}` });
  const engine = compileAuthorization([
    {
      source: { kind: "AuthorizationPolicy", namespace: "foo", name: "require-jwt" },
      scope: "workload",
      appliesTo: ["foo/httpbin"],
      spec: { rules: [{ from: [{ source: { requestPrincipals: [`${ISS}/${ISS}`] } }], when: [{ key: "request.auth.claims[groups]", values: ["group1"] }, { key: "request.auth.presenter", values: ["cli"] }] }] },
    },
  ]);
  const auth = applyAuthnResultToAuthz(r);
  const ctx = { source: {}, destination: { port: 8000 }, request: { host: "h", method: "GET", path: "/", headers: new Map<string, string>(), ...(auth === undefined ? {} : { auth }) } };
  assert.equal(engine.evaluate(ctx).allow, true);
  assert.equal(engine.evaluate({ ...ctx, request: { ...ctx.request, auth: undefined } }).allow, false);
});

test("verified tokens are cached per rule, and a cached token still expires", async () => {
  const c = clock();
  const a = compileRequestAuthentication([requestAuthn({ jwtRules: [rule()] })], { jwks: noRemote, clock: c });
  const token = await sign(k1, { iss: ISS, sub: "cached", exp: NOW_S + 120 });
  const call = () => a.authenticate({ url: "/", headers: headers({ authorization: `Bearer ${token}` }) });
  expectAuthenticated(await call());
  const again = expectAuthenticated(await call());
  assert.equal(again.principal, `${ISS}/cached`);
  assert.deepEqual(again.requestHeaders, [{ op: "remove", name: "authorization" }]);
  c.advance(150_000); // past exp but within the 60 s skew
  expectAuthenticated(await call());
  c.advance(60_000);
  expectInvalid(await call(), "Jwt is expired");
});

test("presence: REQUIRED (istio/istio#60830): the token must be present; with several rules all required tokens", async () => {
  const one = authn([rule({ presence: "REQUIRED" })]);
  expectInvalid(await run(one, {}), "Jwt is missing");
  expectAuthenticated(await run(one, { authorization: `Bearer ${await sign(k1, { iss: ISS, sub: "r" })}` }));

  const idp = rule({ fromHeaders: [{ name: "authorization", prefix: "Bearer " }], presence: "REQUIRED" });
  const scope = { issuer: OTHER, jwks: jwks(k2), fromHeaders: [{ name: "x-scope-token" }], presence: "REQUIRED" as const };
  const both = authn([idp, scope]);
  const idToken = await sign(k1, { iss: ISS, sub: "id" });
  const scopeToken = await sign(k2, { iss: OTHER, sub: "scope" });
  expectInvalid(await run(both, { authorization: `Bearer ${idToken}` }), "Jwt is missing");
  expectInvalid(await run(both, { "x-scope-token": scopeToken }), "Jwt is missing");
  expectAuthenticated(await run(both, { authorization: `Bearer ${idToken}`, "x-scope-token": scopeToken }));

  // Mixed: the optional rule may be missing, but a present optional token must still be valid.
  const mixed = authn([idp, { ...scope, presence: "OPTIONAL" }]);
  expectAuthenticated(await run(mixed, { authorization: `Bearer ${idToken}` }));
  expectInvalid(await run(mixed, { "x-scope-token": scopeToken }), "Jwt is missing");
  expectInvalid(await run(mixed, { authorization: `Bearer ${idToken}`, "x-scope-token": "garbage" }), "Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections");
});

test("a jwtRule of the wrong shape is reported and tokens at the default locations are rejected", async () => {
  const a = compileRequestAuthentication(
    [{ source: { kind: "RequestAuthentication", namespace: "foo", name: "bad" }, scope: "workload", appliesTo: ["foo/httpbin"], spec: { jwtRules: [{ issuer: ISS, fromHeaders: "x-token" } as unknown as JWTRule] } }],
    { jwks: noRemote, clock: clock() },
  );
  assert.equal(a.problems.length, 1);
  assert.match(a.problems[0]!.message, /^malformed rule/);
  assert.equal((await run(a, { authorization: `Bearer ${await sign(k1, { iss: ISS })}` })).kind, "invalid");
  assert.equal((await run(a, {})).kind, "anonymous");
});
