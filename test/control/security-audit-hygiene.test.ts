// Security review fixes, in real workerd: free text that operators read back (API token
// subjects, revocation reasons) cannot carry control characters (forged audit lines,
// terminal escapes), and a refused anonymous request cannot store an unbounded path.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startControlWorker, type StartedWorker } from "../support/control-worker.ts";
import { createThrowawayCa, type ThrowawayCa } from "../support/throwaway-ca.ts";
import { controlClient } from "../support/control-client.ts";
import { MAX_AUDITED_PATH_CHARS } from "../../src/control/app.ts";

let ca: ThrowawayCa;
let worker: StartedWorker;
const { api, attest } = controlClient<any>(() => worker, () => ca.adminToken);

before(async () => {
  ca = await createThrowawayCa();
  worker = await startControlWorker({ vars: ca.vars });
});

after(async () => {
  await worker?.dispose();
});

async function auditCount(): Promise<number> {
  const r = await api("/v1/audit?limit=1000", { token: ca.adminToken });
  assert.equal(r.status, 200, r.text);
  return r.body.events.length as number;
}

describe("API token subjects are plain text", () => {
  const hostile: [name: string, subject: string, code: string][] = [
    ["an ANSI escape", "ci\u001b[31m red", "U+001B"],
    ["a newline forging a second log line", "ci\n2026-01-01 admin token.create", "U+000A"],
    ["a carriage return", "ci\roverwrite", "U+000D"],
    ["a NUL", "ci\u0000", "U+0000"],
    ["DEL", "ci\u007f", "U+007F"],
    ["an 8-bit CSI", "ci\u009b31m", "U+009B"],
  ];
  for (const [name, subject, code] of hostile) {
    test(`${name} is a 400 naming subject, and mints nothing`, async () => {
      const [tokensBefore, auditBefore] = [(await api("/v1/tokens", { token: ca.adminToken })).body.tokens.length, await auditCount()];
      const r = await api("/v1/tokens", { token: ca.adminToken, json: { subject, namespaces: ["shop"], access: "read" } });
      assert.equal(r.status, 400, r.text);
      assert.equal(r.body.error.field, "subject");
      assert.match(r.body.error.message, /^subject: must not contain control characters/);
      assert.ok(r.body.error.message.includes(code), r.body.error.message);
      assert.equal((await api("/v1/tokens", { token: ca.adminToken })).body.tokens.length, tokensBefore);
      assert.equal(await auditCount(), auditBefore);
    });
  }

  test("ordinary Unicode and punctuation are still accepted", async () => {
    const r = await api("/v1/tokens", { token: ca.adminToken, json: { subject: "Zoë Ødegård (日本) <ci@example.com>", namespaces: ["shop"], access: "read" } });
    assert.equal(r.status, 201, r.text);
    const listed = await api("/v1/tokens", { token: ca.adminToken });
    assert.ok(listed.body.tokens.some((t: { id: string; subject: string }) => t.id === r.body.id && t.subject === "Zoë Ødegård (日本) <ci@example.com>"));
  });
});

describe("revocation reasons are plain text", () => {
  test("a reason with a newline is a 400 naming reason and revokes nothing; a plain one revokes", async () => {
    const node = await attest("c1", "victim");
    const bad = await api("/v1/identity/revocations", { token: ca.adminToken, json: { spiffeId: node.spiffeId, reason: "key leaked\nadmin identity.revoke spiffe://strait.local/node/c1/other" } });
    assert.equal(bad.status, 400, bad.text);
    assert.equal(bad.body.error.field, "reason");
    const list = await api("/v1/identity/revocations", { token: ca.adminToken });
    assert.equal(JSON.stringify(list.body).includes(node.spiffeId), false);
    // The node still authenticates: nothing was revoked.
    assert.equal((await api("/v1/identity/revocations", { token: node.jwt })).status, 200);
    const good = await api("/v1/identity/revocations", { token: ca.adminToken, json: { spiffeId: node.spiffeId, reason: "key leaked (ticket #42)" } });
    assert.equal(good.status, 201, good.text);
    assert.equal((await api("/v1/identity/revocations", { token: node.jwt })).status, 401);
  });
});

describe("refusal audit rows are bounded", () => {
  test("an anonymous refusal on an 8 KiB path is only counted, with a short excerpt of the path", async () => {
    const marker = `/v1/tokens/${"x".repeat(8192)}`;
    // Its own source, so the counter (per source, code and minute) and its sample are this request's.
    const r = await worker.fetch(marker, { method: "DELETE", headers: { authorization: "Bearer not-a-credential", "cf-connecting-ip": "192.0.2.77" } });
    assert.equal(r.status, 401, await r.text());
    const audit = await api("/v1/audit?limit=50&outcome=denied", { token: ca.adminToken });
    assert.equal(audit.body.events.find((e: { target: string }) => e.target.startsWith("/v1/tokens/xxx")), undefined, "no audit row per anonymous refusal");
    const counters = await api("/v1/audit/refusals", { token: ca.adminToken });
    const counter = counters.body.refusals.find((c: { sample: string }) => c.sample.startsWith("DELETE /v1/tokens/xxx"));
    assert.ok(counter !== undefined, counters.text);
    assert.ok([...counter.sample].length <= 128, counter.sample);
    assert.ok(counter.count >= 1);
  });

  test(`a refused caller with credentials is audited with the path cut to ${MAX_AUDITED_PATH_CHARS} characters`, async () => {
    const t = await api("/v1/tokens", { token: ca.adminToken, json: { subject: "reader", namespaces: ["shop"], access: "read" } });
    assert.equal(t.status, 201, t.text);
    const marker = `/v1/tokens/${"y".repeat(8192)}`;
    const r = await api(marker, { method: "DELETE", token: t.body.token });
    assert.equal(r.status, 403, r.text.slice(0, 300));
    const audit = await api("/v1/audit?limit=5&outcome=denied", { token: ca.adminToken });
    const row = audit.body.events.find((e: { target: string }) => e.target.startsWith("/v1/tokens/yyy"));
    assert.ok(row !== undefined, audit.text.slice(0, 500));
    assert.match(row.actor, /^token:/);
    assert.equal(row.target, `${marker.slice(0, MAX_AUDITED_PATH_CHARS - 1)}…`);
    assert.equal(row.action, `DELETE ${marker.slice(0, MAX_AUDITED_PATH_CHARS - 1)}…`);
  });

  test("a short path is audited whole", async () => {
    const t = await api("/v1/tokens", { token: ca.adminToken, json: { subject: "reader-2", namespaces: ["shop"], access: "read" } });
    const r = await api("/v1/identity/nodes", { token: t.body.token });
    assert.equal(r.status, 403, r.text);
    const audit = await api(`/v1/audit?limit=5&outcome=denied&target=${encodeURIComponent("/v1/identity/nodes")}`, { token: ca.adminToken });
    assert.equal(audit.body.events[0]?.action, "GET /v1/identity/nodes");
  });
});

