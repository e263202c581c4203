/**
 * The policy core gives identical results on Node, inside workerd (a bare
 * worker, no nodejs_compat) and on Deno: the AuthorizationPolicy case table,
 * JWT verification with real keys, PeerAuthentication.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { access } from "node:fs/promises";
import { constants } from "node:fs";
import { join } from "node:path";
import { projectRoot } from "../../support/control-worker.ts";
import { startModuleWorker } from "../../support/workerd-module.ts";
import { AUTHZ_CASES } from "./authz-cases.ts";
import { jwks, makeKey, NOW, NOW_S, sign } from "./jwt-fixtures.ts";
import { runPolicySuite, type PolicySuiteInput } from "./runtime/suite.ts";

let input: PolicySuiteInput;
let onNode: Record<string, unknown>;

/** Deno from npm (@deno/linux-x64-glibc), else a `deno` on PATH. */
async function denoBinary(): Promise<string> {
  const candidates = [join(projectRoot, "node_modules/@deno/linux-x64-glibc/deno"), ...(process.env.PATH ?? "").split(":").map((d) => join(d, "deno"))];
  for (const c of candidates) {
    try {
      await access(c, constants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  throw new Error("no Deno binary: `npm ci` installs @deno/linux-x64-glibc on linux-x64; elsewhere put `deno` (2.x) on PATH");
}

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
  const worker = await startModuleWorker(`export { default } from ${JSON.stringify(join(projectRoot, "test/core/policy/runtime/workerd-entry.ts"))};`);
  try {
    const r = await worker.fetch("/", { method: "POST", body: JSON.stringify(input) });
    assert.equal(r.status, 200, await r.clone().text());
    assert.deepEqual(await r.json(), onNode);
  } finally {
    await worker.dispose();
  }
});

test("Deno gives the same policy results as Node", async () => {
  const deno = await denoBinary();
  const child = spawn(deno, ["run", "--quiet", "--allow-env", "--config", join(projectRoot, "deno.json"), join(projectRoot, "test/core/policy/runtime/deno-entry.ts")], {
    cwd: projectRoot,
    env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(JSON.stringify(input));
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  assert.equal(code, 0, stderr);
  assert.deepEqual(JSON.parse(stdout), onNode);
});
