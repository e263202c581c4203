import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startControlWorker, type StartedWorker } from "../support/control-worker.ts";
import { createThrowawayCa } from "../support/throwaway-ca.ts";
import { bearer, readJson } from "../support/control-client.ts";

let w: StartedWorker;
let adminToken: string;
let firstApply = 0;

before(async () => {
  const ca = await createThrowawayCa();
  adminToken = ca.adminToken;
  w = await startControlWorker({ vars: ca.vars });
});
after(async () => {
  await w?.dispose();
});

const json = readJson<Record<string, any>>;
const auth = (token: string, type = "application/yaml") => bearer(token, type);

const THREE_DOCS = `apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews.shop.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 9080, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: reviews}}
---
apiVersion: networking.istio.io/v1alpha3
kind: DestinationRule
metadata: {name: reviews, namespace: shop}
spec:
  host: reviews
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: shop}
spec:
  hosts: [reviews]
  http:
  - route:
    - {destination: {host: reviews, subset: v1}, weight: 80}
    - {destination: {host: reviews, subset: v2}, weight: 20}
`;

async function latestRevisionId(): Promise<number> {
  const r = await json(await w.fetch("/v1/revisions?limit=1", { headers: auth(adminToken, "application/json") }));
  return r.revisions[0]?.id ?? 0;
}

describe("POST /v1/apply", () => {
  test("a 3-document apply with one invalid document writes nothing and lists documents[i] paths", async () => {
    const bad = THREE_DOCS.replace("weight: 20", "weight: -20").replace("{name: v2, labels: {version: v2}}", "{labels: {version: v2}}");
    const r = await w.fetch("/v1/apply", { method: "POST", headers: auth(adminToken), body: bad });
    assert.equal(r.status, 400);
    const body = await json(r);
    const paths: string[] = body.error.details.map((d: any) => d.path);
    assert.ok(paths.some((p) => p.startsWith("documents[1].spec.subsets[1]")), JSON.stringify(paths));
    assert.ok(paths.some((p) => p.startsWith("documents[2].spec.http[0].route[1].weight")), JSON.stringify(paths));
    assert.ok(body.error.message.startsWith(paths[0]!));
    assert.equal(await latestRevisionId(), 0);
    const list = await json(await w.fetch("/apis/networking.istio.io/v1/serviceentries", { headers: auth(adminToken) }));
    assert.equal(list.items.length, 0, "the valid documents were not written either");
  });

  test("apply lands all documents in one revision; re-apply is unchanged; dry-run reports a field diff", async () => {
    const r = await w.fetch("/v1/apply", { method: "POST", headers: auth(adminToken), body: THREE_DOCS });
    assert.equal(r.status, 200, await r.clone().text());
    const body = await json(r);
    assert.equal(typeof body.revision, "number");
    firstApply = body.revision;
    assert.deepEqual(body.results.map((x: any) => `${x.kind}:${x.action}`), ["ServiceEntry:created", "DestinationRule:created", "VirtualService:created"]);
    for (const x of body.results) assert.equal(x.resourceVersion, String(body.revision));
    const rev = await json(await w.fetch(`/v1/revisions/${body.revision}`, { headers: auth(adminToken) }));
    assert.equal(rev.revision.operation, "apply");
    assert.equal(rev.changes.length, 3);
    assert.equal(rev.changes[0].before, null);
    assert.equal(rev.revision.actor, "admin");
    const audit = await json(await w.fetch("/v1/audit?action=config.apply", { headers: auth(adminToken) }));
    assert.equal(audit.events.length, 1, "the landed apply is audited once");
    assert.equal(audit.events[0].actor, "admin");
    assert.equal(audit.events[0].outcome, "success");
    assert.equal(audit.events[0].detail.changes, 3);

    const again = await json(await w.fetch("/v1/apply", { method: "POST", headers: auth(adminToken), body: THREE_DOCS }));
    assert.equal(again.revision, null);
    assert.ok(again.results.every((x: any) => x.action === "unchanged"));
    assert.equal(await latestRevisionId(), body.revision);

    const changed = THREE_DOCS.replace("weight: 80", "weight: 50").replace("weight: 20", "weight: 50");
    const dry = await json(await w.fetch("/v1/apply?dryRun=true", { method: "POST", headers: auth(adminToken), body: changed }));
    assert.equal(dry.revision, null);
    assert.equal(dry.dryRun, true);
    const vs = dry.results.find((x: any) => x.kind === "VirtualService");
    assert.equal(vs.action, "configured");
    assert.deepEqual(
      vs.diff.map((d: any) => [d.path, d.before, d.after]),
      [
        ["spec.http[0].route[0].weight", 80, 50],
        ["spec.http[0].route[1].weight", 20, 50],
      ],
    );
    assert.equal(await latestRevisionId(), body.revision, "dry run wrote nothing");
  });

  test("apply with a stale metadata.resourceVersion is 409 and writes nothing", async () => {
    const vsDoc = THREE_DOCS.split("---")[2]!;
    const moved = await json(await w.fetch("/v1/apply", { method: "POST", headers: auth(adminToken), body: vsDoc.replace("weight: 80", "weight: 60").replace("weight: 20", "weight: 40") }));
    assert.equal(moved.results[0].action, "configured");
    const before = await latestRevisionId();
    // Written against the first apply's version, which the apply above superseded.
    const doc = vsDoc.replace("namespace: shop}", `namespace: shop, resourceVersion: '${firstApply}'}`).replace("weight: 80", "weight: 70").replace("weight: 20", "weight: 30");
    const r = await w.fetch("/v1/apply", { method: "POST", headers: auth(adminToken), body: doc });
    assert.equal(r.status, 409, await r.clone().text());
    assert.match((await json(r)).error.message, /metadata\.resourceVersion/);
    assert.equal(await latestRevisionId(), before);
  });

  test("rollback restores the whole config as of revision N as a new revision", async () => {
    const r1 = firstApply;
    const extra = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: shop}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
`;
    const changed = THREE_DOCS.replace("weight: 80", "weight: 10").replace("weight: 20", "weight: 90") + "---\n" + extra;
    const applied = await json(await w.fetch("/v1/apply", { method: "POST", headers: auth(adminToken), body: changed }));
    assert.ok(applied.revision > r1);
    const delDr = await w.fetch("/apis/networking.istio.io/v1/namespaces/shop/destinationrules/reviews", { method: "DELETE", headers: auth(adminToken) });
    assert.equal(delDr.status, 200);
    const drBefore = (await json(await w.fetch(`/v1/revisions/${r1}`, { headers: auth(adminToken) }))).changes.find((c: any) => c.kind === "DestinationRule").after;

    const rb = await w.fetch("/v1/rollback", { method: "POST", headers: auth(adminToken, "application/json"), body: JSON.stringify({ revision: r1 }) });
    assert.equal(rb.status, 200, await rb.clone().text());
    const rbody = await json(rb);
    assert.ok(rbody.revision > applied.revision);
    assert.deepEqual(
      rbody.results.map((x: any) => `${x.kind}:${x.action}`).sort(),
      ["DestinationRule:created", "Gateway:deleted", "VirtualService:configured"],
    );
    const vs = await json(await w.fetch("/apis/networking.istio.io/v1/namespaces/shop/virtualservices/reviews", { headers: auth(adminToken) }));
    assert.deepEqual(vs.spec.http[0].route.map((d: any) => d.weight), [80, 20]);
    const dr = await json(await w.fetch("/apis/networking.istio.io/v1/namespaces/shop/destinationrules/reviews", { headers: auth(adminToken) }));
    assert.equal(dr.metadata.uid, drBefore.metadata.uid, "a restored resource keeps its uid");
    assert.equal((await w.fetch("/apis/networking.istio.io/v1/namespaces/shop/gateways/edge", { headers: auth(adminToken) })).status, 404);
    const log = await json(await w.fetch(`/v1/revisions/${rbody.revision}`, { headers: auth(adminToken) }));
    assert.equal(log.revision.operation, "rollback");

    const bad = await w.fetch("/v1/rollback", { method: "POST", headers: auth(adminToken, "application/json"), body: JSON.stringify({ revision: "x" }) });
    assert.equal(bad.status, 400);
    assert.equal((await json(bad)).error.field, "revision");
    const missing = await w.fetch("/v1/rollback", { method: "POST", headers: auth(adminToken, "application/json"), body: JSON.stringify({ revision: 99999 }) });
    assert.equal(missing.status, 404);
  });

  test("revisions are newest first and paginate with limit/before", async () => {
    const page1 = await json(await w.fetch("/v1/revisions?limit=2", { headers: auth(adminToken) }));
    assert.equal(page1.revisions.length, 2);
    assert.ok(page1.revisions[0].id > page1.revisions[1].id);
    const page2 = await json(await w.fetch(`/v1/revisions?limit=2&before=${page1.next}`, { headers: auth(adminToken) }));
    assert.ok(page2.revisions[0].id < page1.revisions[1].id);
    assert.equal((await w.fetch("/v1/revisions?limit=0", { headers: auth(adminToken) })).status, 400);
  });
});

describe("authorization", () => {
  test("unauthenticated calls are 401; scoped tokens only reach their namespaces", async () => {
    assert.equal((await w.fetch("/v1/apply", { method: "POST", headers: { "content-type": "application/yaml" }, body: THREE_DOCS })).status, 401);
    assert.equal((await w.fetch("/v1/revisions")).status, 401);
    const mint = async (namespaces: string[], access: "read" | "write") => {
      const r = await w.fetch("/v1/tokens", { method: "POST", headers: auth(adminToken, "application/json"), body: JSON.stringify({ subject: "ci", namespaces, access }) });
      assert.equal(r.status, 201, await r.clone().text());
      return (await json(r)).token as string;
    };
    const shopWriter = await mint(["shop"], "write");
    const otherWriter = await mint(["other"], "write");
    const shopReader = await mint(["shop"], "read");

    const doc = (ns: string, name: string) => `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: ${ns}}
spec: {host: ${name}}
`;
    const ok = await w.fetch("/v1/apply", { method: "POST", headers: auth(shopWriter), body: doc("shop", "tok") });
    assert.equal(ok.status, 200, await ok.clone().text());
    const landed = await json(ok);
    const who = (await json(await w.fetch(`/v1/revisions/${landed.revision}`, { headers: auth(adminToken) }))).revision.actor as string;
    assert.match(who, /^token:[^:]+:ci$/, "the revision records who wrote it");
    const before = await latestRevisionId();
    // Write access to every namespace touched: one foreign document refuses the whole apply.
    const mixed = await w.fetch("/v1/apply", { method: "POST", headers: auth(shopWriter), body: doc("shop", "tok2") + "---\n" + doc("other", "tok3") });
    assert.equal(mixed.status, 403);
    assert.equal(await latestRevisionId(), before);
    assert.equal((await w.fetch("/v1/apply", { method: "POST", headers: auth(otherWriter), body: doc("shop", "tok4") })).status, 403);
    assert.equal((await w.fetch("/v1/apply", { method: "POST", headers: auth(shopReader), body: doc("shop", "tok5") })).status, 403);
    assert.equal((await w.fetch("/apis/networking.istio.io/v1/namespaces/shop/destinationrules/tok", { headers: auth(shopReader) })).status, 200);
    assert.equal((await w.fetch("/apis/networking.istio.io/v1/namespaces/other/destinationrules", { headers: auth(shopReader) })).status, 403);
    assert.equal((await w.fetch("/apis/networking.istio.io/v1/destinationrules", { headers: auth(shopReader) })).status, 403, "listing every namespace needs *");
    const del = await w.fetch("/apis/networking.istio.io/v1/namespaces/shop/destinationrules/tok", { method: "DELETE", headers: auth(shopReader) });
    assert.equal(del.status, 403);
    assert.equal(await latestRevisionId(), before);
  });
});
