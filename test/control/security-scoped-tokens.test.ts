// Security review, end to end in real workerd: a scoped API token cannot reach outside its
// namespaces through apply, rollback, lists or label selectors; nodes cannot act as
// operators; secrets never reach the audit log or responses; an empty ADMIN_TOKEN never matches.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startControlWorker, type StartedWorker } from "../support/control-worker.ts";
import { createThrowawayCa, type ThrowawayCa } from "../support/throwaway-ca.ts";
import { controlClient } from "../support/control-client.ts";

let ca: ThrowawayCa;
let worker: StartedWorker;
let nodeJwt: string;
const { api, attest } = controlClient<any>(() => worker, () => ca.adminToken);

const VS = "/apis/networking.istio.io/v1";

function vs(namespace: string | undefined, name: string, labels: Record<string, string> = {}): string {
  const ns = namespace === undefined ? "" : `\n  namespace: ${namespace}`;
  const lbl = Object.keys(labels).length === 0 ? "" : `\n  labels: ${JSON.stringify(labels)}`;
  return `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: ${name}${ns}${lbl}\nspec:\n  hosts: [${name}.example.com]\n  http:\n  - route:\n    - destination: {host: ${name}}\n`;
}

async function mint(namespaces: string[], access: "read" | "write"): Promise<string> {
  const r = await api("/v1/tokens", { token: ca.adminToken, json: { subject: `ci-${namespaces.join("-")}-${access}`, namespaces, access } });
  assert.equal(r.status, 201, r.text);
  return r.body.token as string;
}

async function applyAs(token: string, yaml: string, query = ""): Promise<{ status: number; body: any }> {
  return api(`/v1/apply${query}`, { token, body: yaml, contentType: "application/yaml" });
}

/** Everything stored, as `namespace/name`, read with the admin token. */
async function stored(): Promise<string[]> {
  const r = await api(`${VS}/virtualservices`, { token: ca.adminToken });
  assert.equal(r.status, 200, r.text);
  return (r.body.items as { metadata: { namespace: string; name: string } }[]).map((i) => `${i.metadata.namespace}/${i.metadata.name}`).sort();
}

async function latestRevision(): Promise<number | null> {
  const r = await api("/v1/revisions?limit=1", { token: ca.adminToken });
  assert.equal(r.status, 200, r.text);
  return r.body.revisions[0]?.id ?? null;
}

before(async () => {
  ca = await createThrowawayCa();
  worker = await startControlWorker({ vars: ca.vars });
  nodeJwt = (await attest("c1", "n1")).jwt;
  const seeded = await applyAs(ca.adminToken, [vs("shop", "cart", { tier: "web" }), vs("blog", "posts", { tier: "web" })].join("---\n"));
  assert.equal(seeded.status, 200, JSON.stringify(seeded.body));
});

after(async () => {
  await worker?.dispose();
});

describe("scoped API tokens stay inside their namespaces", () => {
  test("apply with one document in another namespace is 403 and writes nothing, not even the in-scope document", async () => {
    const shopWriter = await mint(["shop"], "write");
    const before = [await stored(), await latestRevision()];
    const r = await applyAs(shopWriter, [vs("shop", "checkout"), vs("blog", "hijack")].join("---\n"));
    assert.equal(r.status, 403);
    assert.match(r.body.error.message, /blog/);
    assert.deepEqual([await stored(), await latestRevision()], before);
  });

  test("a namespace-less document defaulted by ?namespace= to another namespace is 403", async () => {
    const shopWriter = await mint(["shop"], "write");
    const before = await stored();
    const r = await applyAs(shopWriter, vs(undefined, "sneaky"), "?namespace=blog");
    assert.equal(r.status, 403);
    assert.deepEqual(await stored(), before);
    const ok = await applyAs(shopWriter, vs(undefined, "scoped"), "?namespace=shop");
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.ok((await stored()).includes("shop/scoped"));
  });

  test("a read-only token may dry-run an apply in scope but not land it", async () => {
    const shopReader = await mint(["shop"], "read");
    const before = [await stored(), await latestRevision()];
    const dry = await applyAs(shopReader, vs("shop", "dry"), "?dryRun=true");
    assert.equal(dry.status, 200, JSON.stringify(dry.body));
    assert.equal(dry.body.results[0].action, "created");
    assert.equal((await applyAs(shopReader, vs("shop", "dry"))).status, 403);
    assert.equal((await applyAs(shopReader, vs("blog", "dry"), "?dryRun=true")).status, 403);
    assert.deepEqual([await stored(), await latestRevision()], before);
  });

  test("lists: all-namespaces and foreign namespaces are 403; a label selector only filters within scope", async () => {
    const shopReader = await mint(["shop"], "read");
    assert.equal((await api(`${VS}/virtualservices`, { token: shopReader })).status, 403);
    assert.equal((await api(`${VS}/virtualservices?labelSelector=tier%3Dweb`, { token: shopReader })).status, 403);
    assert.equal((await api(`${VS}/namespaces/blog/virtualservices?labelSelector=tier%3Dweb`, { token: shopReader })).status, 403);
    assert.equal((await api(`${VS}/namespaces/blog/virtualservices/posts`, { token: shopReader })).status, 403);
    const own = await api(`${VS}/namespaces/shop/virtualservices?labelSelector=tier%3Dweb`, { token: shopReader });
    assert.equal(own.status, 200, own.text);
    assert.deepEqual(own.body.items.map((i: { metadata: { namespace: string; name: string } }) => `${i.metadata.namespace}/${i.metadata.name}`), ["shop/cart"]);
  });

  test("rollback, revisions, analyze and the gateway snapshot span namespaces: a scoped token gets 403 and nothing changes", async () => {
    const shopWriter = await mint(["shop"], "write");
    const before = [await stored(), await latestRevision()];
    const rb = await api("/v1/rollback", { token: shopWriter, json: { revision: 1 } });
    assert.equal(rb.status, 403);
    for (const path of ["/v1/revisions", "/v1/revisions/1", "/v1/analyze", "/v1/snapshots/gateway", "/v1/proxies/status"]) {
      assert.equal((await api(path, { token: shopWriter })).status, 403, path);
    }
    assert.deepEqual([await stored(), await latestRevision()], before);
  });

  test("an all-namespaces read token cannot roll back (rollback writes)", async () => {
    const allReader = await mint(["*"], "read");
    const before = await latestRevision();
    assert.equal((await api("/v1/rollback", { token: allReader, json: { revision: 1 } })).status, 403);
    assert.equal(await latestRevision(), before);
  });
});

describe("nodes are not operators", () => {
  test("a node's JWT-SVID cannot apply, write resources, roll back, register identities or mint tokens", async () => {
    const before = [await stored(), await latestRevision()];
    assert.equal((await applyAs(nodeJwt, vs("shop", "node-write"))).status, 403);
    assert.equal((await api(`${VS}/namespaces/shop/virtualservices`, { token: nodeJwt, body: vs("shop", "node-write"), contentType: "application/yaml" })).status, 403);
    assert.equal((await api(`${VS}/namespaces/shop/virtualservices`, { token: nodeJwt })).status, 403);
    assert.equal((await api("/v1/rollback", { token: nodeJwt, json: { revision: 1 } })).status, 403);
    const reg = await api("/v1/identity/registrations", { token: nodeJwt, json: { spiffeId: "spiffe://strait.local/ns/shop/sa/x", node: "spiffe://strait.local/node/c1/n1" } });
    assert.equal(reg.status, 403);
    assert.equal((await api("/v1/tokens", { token: nodeJwt, json: { subject: "x", namespaces: ["*"], access: "write" } })).status, 403);
    assert.deepEqual([await stored(), await latestRevision()], before);
    const regs = await api("/v1/identity/registrations", { token: ca.adminToken });
    assert.equal(regs.body.registrations.some((r: { spiffeId: string }) => r.spiffeId === "spiffe://strait.local/ns/shop/sa/x"), false);
  });

  test("an API token is never a node: node routes answer 403", async () => {
    const allWriter = await mint(["*"], "write");
    assert.equal((await api("/v1/identity/renew", { token: allWriter, json: { csr: "x" } })).status, 403);
    assert.equal((await api("/v1/identity/svids", { token: allWriter, json: { requests: [] } })).status, 403);
    assert.equal((await api("/v1/proxies/status", { token: allWriter, json: { version: 1, hash: "0".repeat(64) } })).status, 403);
    assert.equal((await api("/v1/snapshots/nodes/c1/n1", { token: allWriter })).status, 403);
  });
});

describe("secrets stay secret", () => {
  test("join tokens, API tokens and the admin token never appear in the audit log; the CA view holds no private key", async () => {
    const join = await api("/v1/identity/join-tokens", { token: ca.adminToken, json: { cluster: "c1", node: "secret-check" } });
    assert.equal(join.status, 201, join.text);
    const apiToken = await mint(["shop"], "read");
    // Refusals carrying the secrets as credentials are audited too.
    assert.equal((await api("/v1/tokens", { token: apiToken })).status, 403);
    assert.equal((await api("/v1/tokens", { token: join.body.token as string })).status, 401);
    assert.equal((await api("/v1/tokens", { token: `${ca.adminToken}x` })).status, 401);
    const audit = await api("/v1/audit?limit=1000", { token: ca.adminToken });
    assert.equal(audit.status, 200, audit.text);
    assert.ok(audit.body.events.length > 0);
    for (const secret of [join.body.token as string, apiToken, ca.adminToken, ca.vars.CA_KEK as string]) {
      assert.equal(audit.text.includes(secret), false, "a secret is in the audit log");
    }
    const caView = await api("/v1/identity/ca", { token: ca.adminToken });
    assert.equal(caView.status, 200, caView.text);
    assert.doesNotMatch(caView.text, /PRIVATE KEY/);
    assert.equal(caView.text.includes(ca.vars.CA_KEK as string), false);
  });

  test("a rejected CA private key is not echoed back", async () => {
    const marker = "c2VjcmV0LWtleS1tYXRlcmlhbC1kby1ub3QtZWNobw";
    const r = await api("/v1/identity/ca/stage", {
      token: ca.adminToken,
      json: { certificatePem: ca.vars.CA_INTERMEDIATE_CERT, privateKeyPem: `-----BEGIN PRIVATE KEY-----\n${marker}\n-----END PRIVATE KEY-----\n` },
    });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.body.error.field, "privateKeyPem");
    assert.equal(r.text.includes(marker), false);
  });
});

describe("hostile bodies are client errors", () => {
  test("deeply nested YAML or JSON is a 400 naming the body, never a 5xx, and writes nothing", async () => {
    const before = await latestRevision();
    const deep = (n: number) => "[".repeat(n) + "]".repeat(n);
    const yaml = `${vs("shop", "deep")}  extra: ${deep(100000)}\n`;
    const y = await applyAs(ca.adminToken, yaml);
    assert.equal(y.status, 400, JSON.stringify(y.body));
    assert.match(y.body.error.field, /^documents\[0\]|^spec|body/);
    const json = `{"apiVersion":"networking.istio.io/v1","kind":"VirtualService","metadata":{"name":"deep","namespace":"shop"},"spec":{"hosts":["a"],"x":${deep(200000)}}}`;
    const j = await api(`${VS}/namespaces/shop/virtualservices`, { token: ca.adminToken, body: json, contentType: "application/json" });
    assert.equal(j.status, 400, j.text);
    assert.equal(j.body.error.field, "spec.x");
    assert.equal(await latestRevision(), before);
  });

  test("a YAML alias bomb is refused with a 4xx that says so (413 since the expanded-size bound)", async () => {
    const before = await latestRevision();
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 0; i < 9; i++) lines.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)},*${String.fromCharCode(97 + i)}]`);
    const r = await applyAs(ca.adminToken, `${lines.join("\n")}\n`);
    assert.ok(r.status === 400 || r.status === 413, JSON.stringify(r.body));
    assert.match(r.body.error.message, /alias|expand|size|large/i);
    assert.equal(await latestRevision(), before);
  });
});

describe("an empty ADMIN_TOKEN secret matches nothing", () => {
  let blank: StartedWorker;
  before(async () => {
    blank = await startControlWorker({ vars: { ...ca.vars, ADMIN_TOKEN: "" } });
  });
  after(async () => {
    await blank?.dispose();
  });

  test("no header, an empty bearer and whitespace bearers are all 401 on admin routes", async () => {
    const auths: (string | undefined)[] = [undefined, "Bearer", "Bearer ", "Bearer  ", "Bearer \"\"", "bearer\t"];
    for (const authorization of auths) {
      const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
      const r = await blank.fetch("/v1/tokens", { headers });
      assert.equal(r.status, 401, String(authorization));
      await r.text();
    }
  });
});
