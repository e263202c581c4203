import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startControlWorker, type StartedWorker } from "../support/control-worker.ts";
import { createThrowawayCa } from "../support/throwaway-ca.ts";
import { bearer, readJson } from "../support/control-client.ts";

const VS = "/apis/networking.istio.io/v1/namespaces/shop/virtualservices";

let w: StartedWorker;
let admin: Record<string, string>;

function vs(name: string, labels: Record<string, string>, host = name) {
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name, namespace: "shop", labels },
    spec: { hosts: [host], http: [{ route: [{ destination: { host } }] }] },
  };
}

const json = readJson<Record<string, any>>;

before(async () => {
  const ca = await createThrowawayCa();
  w = await startControlWorker({ vars: ca.vars });
  admin = bearer(ca.adminToken);
});
after(async () => {
  await w?.dispose();
});

describe("Kubernetes-style CRUD", () => {
  test("create, get, list with label selectors, update, delete", async () => {
    for (const [name, labels] of [
      ["reviews", { app: "reviews", tier: "backend" }],
      ["ratings", { app: "ratings", tier: "backend", canary: "yes" }],
      ["web", { app: "web", tier: "frontend" }],
    ] as const) {
      const r = await w.fetch(VS, { method: "POST", headers: admin, body: JSON.stringify(vs(name, labels)) });
      assert.equal(r.status, 201, await r.clone().text());
      const body = await json(r);
      assert.equal(body.metadata.name, name);
      assert.match(body.metadata.resourceVersion, /^[0-9]+$/);
      assert.equal(body.metadata.generation, 1);
      assert.equal(typeof body.metadata.uid, "string");
    }
    const got = await json(await w.fetch(`${VS}/reviews`, { headers: admin }));
    assert.deepEqual(got.spec.hosts, ["reviews"]);

    const sel = async (s: string) =>
      (await json(await w.fetch(`${VS}?labelSelector=${encodeURIComponent(s)}`, { headers: admin }))).items.map((i: any) => i.metadata.name).sort();
    assert.deepEqual(await sel("tier=backend"), ["ratings", "reviews"]);
    assert.deepEqual(await sel("tier=backend,canary!=yes"), ["reviews"]);
    assert.deepEqual(await sel("canary"), ["ratings"]);
    assert.deepEqual(await sel("!canary,tier"), ["reviews", "web"]);
    assert.deepEqual(await sel("app in (web, ratings)"), ["ratings", "web"]);
    assert.deepEqual(await sel("app notin (web)"), ["ratings", "reviews"]);

    const list = await json(await w.fetch("/apis/networking.istio.io/v1/virtualservices", { headers: admin }));
    assert.equal(list.kind, "VirtualServiceList");
    assert.equal(list.apiVersion, "networking.istio.io/v1");
    assert.equal(list.items.length, 3);

    const updated = { ...got, spec: { ...got.spec, http: [{ route: [{ destination: { host: "reviews", subset: "v2" } }] }] } };
    const put = await w.fetch(`${VS}/reviews`, { method: "PUT", headers: admin, body: JSON.stringify(updated) });
    assert.equal(put.status, 200, await put.clone().text());
    const putBody = await json(put);
    assert.equal(putBody.metadata.generation, 2);
    assert.ok(Number(putBody.metadata.resourceVersion) > Number(got.metadata.resourceVersion));

    const del = await w.fetch(`${VS}/web`, { method: "DELETE", headers: admin });
    assert.equal(del.status, 200);
    assert.equal((await w.fetch(`${VS}/web`, { headers: admin })).status, 404);
  });

  test("responses echo the requested apiVersion (v1beta1 alias)", async () => {
    const r = await json(await w.fetch("/apis/networking.istio.io/v1beta1/namespaces/shop/virtualservices/reviews", { headers: admin }));
    assert.equal(r.apiVersion, "networking.istio.io/v1beta1");
  });

  test("YAML bodies are accepted", async () => {
    const yaml = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: details
  labels: {app: details}
spec:
  hosts: [details]
  http:
  - route:
    - destination: {host: details}
`;
    const r = await w.fetch(VS, { method: "POST", headers: { ...admin, "content-type": "application/yaml" }, body: yaml });
    assert.equal(r.status, 201, await r.clone().text());
    const body = await json(r);
    assert.equal(body.metadata.namespace, "shop");
    assert.deepEqual(body.metadata.labels, { app: "details" });
  });

  test("POST of an existing name is 409 AlreadyExists and writes nothing", async () => {
    const before = await json(await w.fetch("/v1/revisions?limit=1", { headers: admin }));
    const r = await w.fetch(VS, { method: "POST", headers: admin, body: JSON.stringify(vs("reviews", {})) });
    assert.equal(r.status, 409);
    const body = await json(r);
    assert.equal(body.error.code, "ERR_ALREADY_EXISTS");
    assert.equal(body.error.field, "metadata.name");
    const afterRevs = await json(await w.fetch("/v1/revisions?limit=1", { headers: admin }));
    assert.equal(afterRevs.revisions[0].id, before.revisions[0].id);
  });

  test("stale resourceVersion on PUT and DELETE is 409 naming metadata.resourceVersion", async () => {
    const cur = await json(await w.fetch(`${VS}/ratings`, { headers: admin }));
    const stale = String(Number(cur.metadata.resourceVersion) - 1);
    const put = await w.fetch(`${VS}/ratings`, {
      method: "PUT",
      headers: admin,
      body: JSON.stringify({ ...cur, metadata: { ...cur.metadata, resourceVersion: stale }, spec: { ...cur.spec, hosts: ["ratings", "r2"] } }),
    });
    assert.equal(put.status, 409);
    const pb = await json(put);
    assert.equal(pb.error.field, "metadata.resourceVersion");
    assert.match(pb.error.message, /metadata\.resourceVersion/);
    const del = await w.fetch(`${VS}/ratings?resourceVersion=${stale}`, { method: "DELETE", headers: admin });
    assert.equal(del.status, 409);
    const still = await json(await w.fetch(`${VS}/ratings`, { headers: admin }));
    assert.deepEqual(still, cur);
  });

  test("invalid bodies are 400 with details and the first path in the message; nothing written", async () => {
    const before = await json(await w.fetch("/v1/revisions?limit=1", { headers: admin }));
    const bad = vs("bad", {});
    (bad.spec.http[0] as any).route[0].weight = -5;
    const r = await w.fetch(VS, { method: "POST", headers: admin, body: JSON.stringify(bad) });
    assert.equal(r.status, 400);
    const body = await json(r);
    assert.ok(Array.isArray(body.error.details) && body.error.details.length > 0);
    assert.ok(body.error.message.startsWith(body.error.details[0].path), body.error.message);
    assert.match(body.error.details[0].path, /^spec\.http\[0\]\.route\[0\]\.weight/);

    const nsMismatch = await w.fetch(VS, { method: "POST", headers: admin, body: JSON.stringify({ ...vs("x", {}), metadata: { name: "x", namespace: "other" } }) });
    assert.equal(nsMismatch.status, 400);
    assert.equal((await json(nsMismatch)).error.field, "metadata.namespace");

    const nameMismatch = await w.fetch(`${VS}/reviews`, { method: "PUT", headers: admin, body: JSON.stringify(vs("not-reviews", {})) });
    assert.equal(nameMismatch.status, 400);
    assert.equal((await json(nameMismatch)).error.field, "metadata.name");

    const notJson = await w.fetch(VS, { method: "POST", headers: admin, body: "{nope" });
    assert.equal(notJson.status, 400);

    const afterRevs = await json(await w.fetch("/v1/revisions?limit=1", { headers: admin }));
    assert.equal(afterRevs.revisions[0].id, before.revisions[0].id);
    assert.equal((await w.fetch(`${VS}/bad`, { headers: admin })).status, 404);
  });

  test("oversized, wrongly typed and malformed requests are 4xx naming the field", async () => {
    const huge = await w.fetch("/v1/apply", { method: "POST", headers: { ...admin, "content-type": "application/yaml" }, body: "# pad\n".repeat(200_000) });
    assert.equal(huge.status, 413);
    assert.equal((await json(huge)).error.field, "body");
    const xml = await w.fetch(VS, { method: "POST", headers: { ...admin, "content-type": "application/xml" }, body: "<vs/>" });
    assert.equal(xml.status, 415);
    const sel = await w.fetch(`${VS}?labelSelector=${encodeURIComponent("app in (x")}`, { headers: admin });
    assert.equal(sel.status, 400);
    assert.equal((await json(sel)).error.field, "labelSelector");
    const wrongKind = await w.fetch(VS, { method: "POST", headers: admin, body: JSON.stringify({ ...vs("k", {}), kind: "DestinationRule" }) });
    assert.equal(wrongKind.status, 400);
    assert.equal((await json(wrongKind)).error.field, "kind");
    const badRv = await w.fetch(`${VS}/reviews`, { method: "PUT", headers: admin, body: JSON.stringify({ ...vs("reviews", {}), metadata: { name: "reviews", resourceVersion: "abc" } }) });
    assert.equal(badRv.status, 400);
    assert.equal((await json(badRv)).error.field, "metadata.resourceVersion");
    const badRev = await w.fetch("/v1/revisions/abc", { headers: admin });
    assert.equal(badRev.status, 400);
    assert.equal((await json(badRev)).error.field, "id");
  });

  test("unknown plural is 404; unauthenticated is 401", async () => {
    assert.equal((await w.fetch("/apis/networking.istio.io/v1/namespaces/shop/widgets", { headers: admin })).status, 404);
    assert.equal((await w.fetch(VS)).status, 401);
    assert.equal((await w.fetch(VS, { method: "POST", body: JSON.stringify(vs("anon", {})) })).status, 401);
  });
});
