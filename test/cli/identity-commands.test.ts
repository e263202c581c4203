import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startControlWorker, type StartedWorker } from "../support/control-worker.ts";
import { createThrowawayCa, opensslCsr, type ThrowawayCa } from "../support/throwaway-ca.ts";
import { show, strait, type CliRun } from "./support/run-cli.ts";
import { attestNode, callApi } from "../support/control-client.ts";

let ca: ThrowawayCa;
let worker: StartedWorker;

before(async () => {
  ca = await createThrowawayCa();
  worker = await startControlWorker({ vars: ca.vars });
});

after(async () => {
  await worker?.dispose();
});

/** Runs the CLI against the test worker; `token` defaults to the admin token, `null` sends none. */
function cli(args: string[], token: string | null = ca.adminToken): Promise<CliRun> {
  return strait(args, { env: { STRAIT_SERVER: worker.url.href, ...(token === null ? {} : { STRAIT_TOKEN: token }) } });
}

test("token create prints only the token on stdout; the token works for its scope and nothing more", async () => {
  const startedAt = Date.now();
  const r = await cli(["token", "create", "--subject", "ci-bot", "-n", "default", "shop", "--access", "read", "--ttl", "1h"]);
  assert.equal(r.code, 0, show(r));
  const token = r.stdout.trim();
  assert.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/, "a compact JWT and nothing else on stdout");
  assert.equal(r.stdout, `${token}\n`);
  const created = /^token (\S+) created for ci-bot \(read on default,shop\), expires (\S+)$/m.exec(r.stderr);
  assert.ok(created, show(r));
  const expires = Date.parse(created[2]!);
  assert.ok(Math.abs(expires - (startedAt + 3600_000)) < 120_000, `expiry ${created[2]} is about an hour away`);

  // The scoped token is accepted by the server (it can read its namespace) but is not admin.
  const readOwn = await worker.fetch("/v1/tokens", { headers: { authorization: `Bearer ${token}` } });
  assert.equal(readOwn.status, 403);
  const denied = await cli(["token", "list"], token);
  assert.equal(denied.code, 3, show(denied));
  assert.match(denied.stderr, /^error: .*\(ERR_FORBIDDEN\)$/m);

  const list = await cli(["token", "list"]);
  assert.equal(list.code, 0, show(list));
  assert.match(list.stdout, /^ID\s+SUBJECT\s+NAMESPACES\s+ACCESS\s+EXPIRES\s+REVOKED$/m);
  assert.match(list.stdout, new RegExp(`^${created[1]}\\s+ci-bot\\s+default,shop\\s+read\\s+\\S+\\s+<none>$`, "m"));

  const revoke = await cli(["token", "revoke", created[1]!]);
  assert.equal(revoke.code, 0, show(revoke));
  assert.equal(revoke.stdout, `token ${created[1]} revoked\n`);
  const again = await cli(["token", "revoke", created[1]!]);
  assert.equal(again.code, 1, show(again));
  assert.match(again.stderr, /^error: id: API token \S+ is already revoked \(ERR_CONFLICT\)$/m);

  const revoked = await cli(["token", "list"], token);
  assert.equal(revoked.code, 3, show(revoked));
  assert.match(revoked.stderr, /^error: .*revoked.*\(ERR_UNAUTHENTICATED\)$/m);
  // The hint names the setting the token came from (the test passes it in STRAIT_TOKEN).
  assert.match(revoked.stderr, /^ {2}check STRAIT_TOKEN: the control plane did not accept it$/m);
});

test("token create -o json returns the server's answer; bad input is refused by the server with the field named (exit 1)", async () => {
  const r = await cli(["token", "create", "--subject", "deployer", "-n", "*", "--access", "write", "-o", "json"]);
  assert.equal(r.code, 0, show(r));
  const body = JSON.parse(r.stdout) as { id: string; token: string; expiresAt: string };
  assert.equal(typeof body.id, "string");
  assert.match(body.token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
  assert.ok(Date.parse(body.expiresAt) > Date.now());

  const badNs = await cli(["token", "create", "--subject", "x", "-n", "Not_A_Namespace", "--access", "read"]);
  assert.equal(badNs.code, 1, show(badNs));
  assert.match(badNs.stderr, /^error: -n\/--namespace: must be a namespace name.*\(ERR_VALIDATION\)$/m);
  assert.equal(badNs.stdout, "");

  const shortTtl = await cli(["token", "create", "--subject", "x", "-n", "default", "--access", "read", "--ttl", "30s"]);
  // Refused before sending, naming the flag and the limit (the server's field is ttlSeconds, which the user never typed).
  assert.equal(shortTtl.code, 2, show(shortTtl));
  assert.match(shortTtl.stderr, /^error: --ttl: must be between 1m and 365d, got "30s"$/m);
  assert.doesNotMatch(shortTtl.stderr, /ttlSeconds/);
});

test("join-token create mints a token a node can attest with", async () => {
  const r = await cli(["join-token", "create", "--cluster", "edge-1", "--node", "node-a", "--ttl", "10m"]);
  assert.equal(r.code, 0, show(r));
  const token = r.stdout.trim();
  assert.match(token, /^[A-Za-z0-9_-]{43}$/, "32 random bytes, base64url");
  assert.match(r.stderr, /^join token for spiffe:\/\/strait\.local\/node\/edge-1\/node-a, expires \S+$/m);

  const res = await callApi<{ spiffeId: string }>(worker, "/v1/identity/attest", { json: { csr: await opensslCsr(), joinToken: token } });
  assert.equal(res.status, 200, res.text);
  const attested = res.body;
  assert.equal(attested.spiffeId, "spiffe://strait.local/node/edge-1/node-a");

  const json = await cli(["join-token", "create", "--cluster", "edge-1", "--node", "node-b", "-o", "json"]);
  assert.equal(json.code, 0, show(json));
  const body = JSON.parse(json.stdout) as { spiffeId: string; cluster: string; node: string; expiresAt: string };
  assert.equal(body.spiffeId, "spiffe://strait.local/node/edge-1/node-b");
  const ttl = Date.parse(body.expiresAt) - Date.now();
  assert.ok(ttl > 8 * 60_000 && ttl <= 10 * 60_000 + 5_000, `default ttl is 10m, got ${ttl}ms`);

  const bad = await cli(["join-token", "create", "--cluster", "edge 1", "--node", "node-c"]);
  assert.equal(bad.code, 1, show(bad));
  assert.match(bad.stderr, /^error: --cluster: must be 1-253 characters.*\(ERR_VALIDATION\)$/m);
});

test("credentials problems exit 3: no token, a wrong token", async () => {
  const none = await cli(["join-token", "create", "--cluster", "c", "--node", "n"], null);
  assert.equal(none.code, 3, show(none));
  assert.match(none.stderr, /^error: .*\(ERR_UNAUTHENTICATED\)$/m);
  assert.equal(none.stdout, "");

  const wrong = await cli(["token", "list"], "admin-not-the-right-one");
  assert.equal(wrong.code, 3, show(wrong));
  assert.match(wrong.stderr, /^error: .*\(ERR_UNAUTHENTICATED\)$/m);
});

test("node list shows attested nodes; node evict evicts one (then it is not attested), and bad ids are refused naming the argument", async () => {
  const node = await attestNode(worker, ca.adminToken, "c9", "n1");
  const list = await cli(["node", "list"]);
  assert.equal(list.code, 0, show(list));
  assert.match(list.stdout, /^SPIFFE ID\s+ATTESTATION\s+ATTESTED\s+LAST SEEN\s+REVOKED$/m);
  assert.match(list.stdout, new RegExp(`^${node.spiffeId}\\s+join_token\\s+\\S+ ago\\s+\\S+ ago\\s+<none>$`, "m"));

  const evict = await cli(["node", "evict", node.spiffeId]);
  assert.equal(evict.code, 0, show(evict));
  assert.equal(evict.stdout, `node ${node.spiffeId} evicted\n`);
  const after = await cli(["node", "list", "-o", "json"]);
  assert.equal(after.code, 0, show(after));
  assert.ok(!(JSON.parse(after.stdout) as { nodes: { spiffeId: string }[] }).nodes.some((n) => n.spiffeId === node.spiffeId));

  const again = await cli(["node", "evict", node.spiffeId]);
  assert.equal(again.code, 1, show(again));
  assert.match(again.stderr, /^error: .*node \S+ is not attested \(ERR_NOT_FOUND\)$/m);
  const bad = await cli(["node", "evict", "spiffe://strait.local/ns/shop/sa/web"]);
  assert.equal(bad.code, 1, show(bad));
  assert.match(bad.stderr, /^error: <spiffe-id>: must be a node SPIFFE ID/m);
  const denied = await cli(["node", "evict", node.spiffeId], null);
  assert.notEqual(denied.code, 0, show(denied));
});
