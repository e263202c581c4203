// requireAdmin / requireNode / requireAccess / actorOf: the authorization rules every
// control route relies on, exercised through a real Hono app and the real error mapping.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Hono } from "hono";
import { actorOf, requireAccess, requireAdmin, requireNode } from "../../src/control/auth.ts";
import { errorResponse } from "../../src/control/http-errors.ts";
import type { ControlApp, Principal } from "../../src/control/types.ts";

const principals: Record<string, Principal | undefined> = {
  none: undefined,
  admin: { type: "admin" },
  node: { type: "node", spiffeId: "spiffe://strait.local/node/c1/n1", cluster: "c1", node: "n1" },
  shopReader: { type: "token", tokenId: "t1", subject: "alice", namespaces: ["shop"], access: "read" },
  shopWriter: { type: "token", tokenId: "t2", subject: "bob", namespaces: ["shop", "blog"], access: "write" },
  allReader: { type: "token", tokenId: "t3", subject: "carol", namespaces: ["*"], access: "read" },
  allWriter: { type: "token", tokenId: "t4", subject: "dave", namespaces: ["*"], access: "write" },
};

const app = new Hono<ControlApp>();
app.onError((err, c) => errorResponse(c, err));
app.use("*", async (c, next) => {
  c.set("principal", principals[c.req.header("x-principal") ?? "none"]);
  await next();
});
app.get("/admin", (c) => {
  requireAdmin(c);
  return c.json({ ok: true });
});
app.get("/node", (c) => c.json({ node: requireNode(c).node }));
app.get("/ns/:ns/:access", (c) => {
  const access = c.req.param("access") === "write" ? "write" : "read";
  return c.json({ actor: actorOf(requireAccess(c, c.req.param("ns"), access)) });
});

async function status(path: string, who: string): Promise<number> {
  return (await app.request(path, { headers: { "x-principal": who } })).status;
}

describe("authorization helpers", () => {
  test("requireAdmin: 401 anonymous, 403 node and tokens, 200 admin", async () => {
    assert.deepEqual(
      await Promise.all(["none", "admin", "node", "shopWriter", "allWriter"].map((w) => status("/admin", w))),
      [401, 200, 403, 403, 403],
    );
  });

  test("requireNode: only node principals", async () => {
    assert.deepEqual(await Promise.all(["none", "admin", "node", "allWriter"].map((w) => status("/node", w))), [401, 403, 200, 403]);
    assert.deepEqual(await (await app.request("/node", { headers: { "x-principal": "node" } })).json(), { node: "n1" });
  });

  const table: [who: string, ns: string, access: "read" | "write", expected: number][] = [
    ["none", "shop", "read", 401],
    ["admin", "shop", "write", 200],
    ["admin", "*", "write", 200],
    ["node", "shop", "read", 403],
    ["shopReader", "shop", "read", 200],
    ["shopReader", "shop", "write", 403],
    ["shopReader", "blog", "read", 403],
    ["shopReader", "*", "read", 403],
    ["shopWriter", "blog", "read", 200],
    ["shopWriter", "blog", "write", 200],
    ["shopWriter", "other", "write", 403],
    ["allReader", "anything", "read", 200],
    ["allReader", "*", "read", 200],
    ["allReader", "anything", "write", 403],
    ["allWriter", "*", "write", 200],
  ];
  for (const [who, ns, access, expected] of table) {
    test(`requireAccess: ${who} ${access} ${ns} -> ${expected}`, async () => {
      assert.equal(await status(`/ns/${encodeURIComponent(ns)}/${access}`, who), expected);
    });
  }

  test("actorOf names the caller for the audit log", () => {
    assert.equal(actorOf(principals.admin), "admin");
    assert.equal(actorOf(principals.node), "node:spiffe://strait.local/node/c1/n1");
    assert.equal(actorOf(principals.shopReader), "token:t1:alice");
    assert.equal(actorOf(undefined), "anonymous");
  });
});
