/**
 * The policy core gives identical results on Node, inside workerd (a bare
 * worker, no nodejs_compat) and on Deno: the AuthorizationPolicy case table,
 * JWT verification with real keys, PeerAuthentication.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { runInWorkerd, runOnDeno } from "../../support/runtimes.ts";
import { AUTHZ_CASES } from "./authz-cases.ts";
import { jwks, makeKey, NOW, NOW_S, sign } from "./jwt-fixtures.ts";
import { runPolicySuite, type PolicySuiteInput } from "./runtime/suite.ts";

let input: PolicySuiteInput;
let onNode: Record<string, unknown>;


before(async () => {
  const issuer = "https://issuer.example";
  const rsa = await makeKey("rsa-1");
  const ec = await makeKey("ec-1", "ES256");
  const other = await makeKey("rsa-1");
  input = {
    now: NOW,
    issuer,
    jwks: jwks(rsa, ec),
    tokens: {
      rsaValid: await sign(rsa, { iss: issuer, sub: "alice", aud: "api", scope: "read write" }),
      ecValid: await sign(ec, { iss: issuer, sub: "bob", aud: ["x", "api"] }),
      expired: await sign(rsa, { iss: issuer, sub: "alice", aud: "api", exp: NOW_S - 3600 }),
      wrongAudience: await sign(rsa, { iss: issuer, sub: "alice", aud: "web" }),
      wrongKey: await sign(other, { iss: issuer, sub: "alice", aud: "api" }),
      unknownIssuer: await sign(rsa, { iss: "https://nobody", sub: "alice", aud: "api" }),
      garbage: "not-a-jwt",
    },
  };
  onNode = JSON.parse(JSON.stringify(await runPolicySuite(input))) as Record<string, unknown>;
});

test("the policy suite proves something on Node", () => {
  const authz = onNode.authz as Array<{ name: string; allow: boolean }>;
  assert.equal(authz.length, AUTHZ_CASES.length);
  authz.forEach((r, i) => assert.equal(r.allow, AUTHZ_CASES[i]!.expect.allow, r.name));
  const authn = onNode.authn as Record<string, { kind: string; principal?: string; message?: string }>;
  assert.equal(authn.rsaValid?.principal, "https://issuer.example/alice");
  assert.equal(authn.ecValid?.principal, "https://issuer.example/bob");
  assert.equal(authn.expired?.message, "Jwt is expired");
  assert.equal(authn.wrongAudience?.message, "Audiences in Jwt are not allowed");
  assert.equal(authn.wrongKey?.message, "Jwt verification fails");
  assert.equal(authn.unknownIssuer?.message, "Jwt issuer is not configured");
  assert.equal(authn.garbage?.kind, "invalid");
  assert.equal(authn.missing?.kind, "anonymous");
  assert.deepEqual(onNode.peer, ["STRICT", "PERMISSIVE", "DISABLE"]);
});

test("workerd gives the same policy results as Node", async () => {
  assert.deepEqual(await runInWorkerd("test/core/policy/runtime/workerd-entry.ts", input), onNode);
});

test("Deno gives the same policy results as Node", async () => {
  assert.deepEqual(await runOnDeno("test/core/policy/runtime/deno-entry.ts", input), onNode);
});
