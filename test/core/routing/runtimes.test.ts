/**
 * One implementation, two runtimes: the routing case table gives identical
 * results on Node, in workerd (a bare worker) and on Deno.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { runInWorkerd, runOnDeno } from "../../support/runtimes.ts";
import { runRoutingCases } from "./cases.ts";

let onNode: Record<string, unknown>;

before(() => {
  onNode = JSON.parse(JSON.stringify(runRoutingCases())) as Record<string, unknown>;
});

test("routing cases prove something on Node", () => {
  const plan = (name: string) => (onNode[name] as { plan: Record<string, unknown> }).plan;
  assert.deepEqual(onNode.issues, []);
  assert.equal(plan("redos").kind, "forward", "the ReDoS header does not match (a+)+$ and falls through");
  assert.equal(plan("redos-match").kind, "direct-response");
  assert.equal((plan("claims").destination as { subset: string }).subset, "v2");
  assert.equal((plan("rewrite-prefix").upstreamRequest as { path: string }).path, "/new/a?b=c");
  assert.equal((plan("regex-rewrite").upstreamRequest as { path: string }).path, "/items/of/cart?x");
  assert.deepEqual([plan("redirect").status, plan("redirect").location], [308, "http://shop.example.com:85/here?x=1"]);
  assert.equal(plan("https-redirect").location, "https://redirect.example.com:8080/p?q");
  assert.equal(plan("no-host").kind, "no-route");
  const staticEmpty = plan("static-empty") as { kind: string; cluster: { host: string; endpoints: unknown[] } };
  assert.equal(staticEmpty.kind, "forward");
  assert.equal(staticEmpty.cluster.host, "static.partner.example.net");
  assert.deepEqual(staticEmpty.cluster.endpoints, [], "MESH_EXTERNAL + STATIC without endpoints has no upstream (the data plane answers 503 UH)");
  assert.equal((onNode.cors as { preflight: { kind: string } }).preflight.kind, "respond");
  const w = onNode.weights as Record<string, number>;
  assert.ok(Math.abs((w.v1 ?? 0) - 1000) < 100, JSON.stringify(w));
  const picks = (onNode.default as { picks: string[] }).picks;
  assert.equal(new Set(picks).size, 1, "consistent hash on x-user is sticky");
});

test("workerd gives the same routing results as Node", async () => {
  assert.deepEqual(await runInWorkerd("test/core/routing/workerd-entry.ts"), onNode);
});

test("Deno gives the same routing results as Node", async () => {
  assert.deepEqual(await runOnDeno("test/core/routing/deno-entry.ts"), onNode);
});
