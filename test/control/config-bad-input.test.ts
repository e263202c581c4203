/**
 * A client's mistake on any config route is a 4xx with `{"error": {code, message}}`
 * naming what was wrong, and writes nothing; never a 5xx. Real workerd, real D1/KV.
 */
import { after, before, describe, test } from "node:test";
import http from "node:http";
import assert from "node:assert/strict";
import { startControlWorker, type StartedWorker } from "../support/control-worker.ts";
import { createThrowawayCa } from "../support/throwaway-ca.ts";
import { readJson } from "../support/control-client.ts";
import { MAX_CONFIG_BODY_BYTES } from "../../src/control/config/request-body.ts";

const VS = "/apis/networking.istio.io/v1/namespaces/shop/virtualservices";

let w: StartedWorker;
let token: string;

const JSON_TYPE = "application/json";
const YAML_TYPE = "application/yaml";

function vs(name: string, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: "networking.istio.io/v1",
    kind: "VirtualService",
    metadata: { name, namespace: "shop", ...extra },
    spec: { hosts: [name], http: [{ route: [{ destination: { host: name } }] }] },
  };
}

const json = readJson<Record<string, any>>;

interface Case {
  name: string;
  method?: string;
  path: string;
  type?: string;
  body?: string | Uint8Array<ArrayBuffer>;
  headers?: Record<string, string>;
  status: number;
  /** A text the error message must contain: the field, header or parameter at fault. */
  names: string;
  /** The `error.field`, when the error carries one. */
  field?: string;
}

const state = { revision: 0, resources: "" };

async function snapshotOfStore(): Promise<{ revision: number; resources: string }> {
  const auth = { authorization: `Bearer ${token}` };
  const revs = await json(await w.fetch("/v1/revisions?limit=1", { headers: auth }));
  const list = await json(await w.fetch("/apis/networking.istio.io/v1/virtualservices", { headers: auth }));
  return { revision: Number(revs.revisions[0]?.id ?? 0), resources: JSON.stringify(list.items) };
}

before(async () => {
  const ca = await createThrowawayCa();
  w = await startControlWorker({ vars: ca.vars });
  token = ca.adminToken;
  const r = await w.fetch(VS, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": JSON_TYPE }, body: JSON.stringify(vs("reviews")) });
  assert.equal(r.status, 201, await r.clone().text());
  Object.assign(state, await snapshotOfStore());
});
after(async () => {
  await w?.dispose();
});

async function expectRefused(c: Case): Promise<Record<string, any>> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, ...c.headers };
  if (c.body !== undefined) headers["content-type"] = c.type ?? JSON_TYPE;
  const r = await w.fetch(c.path, { method: c.method ?? (c.body === undefined ? "GET" : "POST"), headers, body: c.body });
  const text = await r.text();
  assert.equal(r.status, c.status, `${c.method ?? "POST"} ${c.path}: ${text}`);
  const body = JSON.parse(text) as Record<string, any>;
  assert.equal(typeof body.error?.code, "string", text);
  assert.match(body.error.code, /^ERR_[A-Z_]+$/);
  assert.equal(typeof body.error.message, "string");
  assert.ok(body.error.message.includes(c.names), `message ${JSON.stringify(body.error.message)} names ${c.names}`);
  if (c.field !== undefined) assert.equal(body.error.field, c.field, text);
  return body;
}

const nested = (depth: number) => "[".repeat(depth) + "]".repeat(depth);
const laughs = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
  .concat(Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9).fill(`*${String.fromCharCode(97 + i)}`).join(",")}]`))
  .join("\n");

const cases: Case[] = [
  // Bodies that are not resources.
  { name: "bad YAML", path: VS, type: YAML_TYPE, body: "apiVersion: networking.istio.io/v1\nkind: [VirtualService\n", status: 400, names: "line", field: "documents[0]" },
  // Refused before expansion, by the alias-expanded size bound (issue 6, finding 2).
  { name: "YAML bomb (billion laughs)", path: "/v1/apply", type: YAML_TYPE, body: laughs, status: 413, names: "document 0", field: "body" },
  { name: "YAML bomb on a REST route", path: VS, type: YAML_TYPE, body: laughs, status: 413, names: "document 0", field: "body" },
  { name: "deeply nested YAML flow", path: "/v1/apply", type: YAML_TYPE, body: `spec: ${nested(20000)}`, status: 400, names: "document 0", field: "documents[0]" },
  { name: "deeply nested JSON", path: VS, body: JSON.stringify({ ...vs("deep"), spec: { hosts: ["deep"], http: "HOLE" } }).replace('"HOLE"', nested(200000)), status: 400, names: "spec.http[0]" },
  { name: "deeply nested JSON on apply", path: "/v1/apply", body: `{"spec":${nested(200000)}}`, status: 400, names: "documents[0]" },
  { name: "scalar YAML document", path: "/v1/apply", type: YAML_TYPE, body: "just a string\n", status: 400, names: "expected a mapping", field: "documents[0]" },
  { name: "YAML list of scalars", path: "/v1/apply", type: YAML_TYPE, body: "- 1\n- two\n", status: 400, names: "documents[0]" },
  { name: "JSON number body", path: VS, body: "42", status: 400, names: "body", field: "body" },
  { name: "JSON null body", path: VS, body: "null", status: 400, names: "body", field: "body" },
  { name: "JSON array body on a REST route", path: VS, body: JSON.stringify([vs("a")]), status: 400, names: "body", field: "body" },
  { name: "invalid JSON", path: VS, body: "{\"kind\": ", status: 400, names: "body", field: "body" },
  { name: "two YAML documents on a REST route", path: VS, type: YAML_TYPE, body: "a: 1\n---\nb: 2\n", status: 400, names: "exactly one", field: "body" },
  { name: "empty body", path: VS, body: "", status: 400, names: "body" },
  { name: "empty apply", path: "/v1/apply", type: YAML_TYPE, body: "# only a comment\n---\n", status: 400, names: "body", field: "body" },
  { name: "unsupported content type", path: "/v1/apply", type: "text/html", body: "<p>hi</p>", status: 415, names: "Content-Type", field: "body" },
  { name: "not UTF-8", path: "/v1/apply", type: YAML_TYPE, body: new Uint8Array([0x6b, 0x3a, 0x20, 0xff, 0xfe, 0x0a]), status: 400, names: "UTF-8", field: "body" },
  { name: "duplicate YAML keys", path: VS, type: YAML_TYPE, body: "kind: VirtualService\nkind: Gateway\n", status: 400, names: "document 0", field: "documents[0]" },
  // The URL names no kind Strait serves.
  { name: "unknown group", path: "/apis/example.com/v1/namespaces/shop/virtualservices", status: 404, names: "virtualservices.example.com/v1" },
  { name: "unknown version", path: "/apis/networking.istio.io/v2/namespaces/shop/virtualservices", status: 404, names: "networking.istio.io/v2" },
  { name: "unknown plural", path: "/apis/networking.istio.io/v1/namespaces/shop/virtualservice", status: 404, names: "virtualservice." },
  { name: "plural of another group", path: "/apis/security.istio.io/v1/namespaces/shop/virtualservices", status: 404, names: "virtualservices.security.istio.io" },
  { name: "POST to an unknown plural", path: "/apis/networking.istio.io/v1/namespaces/shop/widgets", body: JSON.stringify(vs("a")), status: 404, names: "widgets" },
  { name: "PUT to an unknown version", method: "PUT", path: "/apis/networking.istio.io/v9/namespaces/shop/virtualservices/reviews", body: JSON.stringify(vs("reviews")), status: 404, names: "v9" },
  // Names and namespaces.
  { name: "name not DNS-1123", path: VS, body: JSON.stringify(vs("Bad_Name")), status: 400, names: "metadata.name", field: "metadata.name" },
  { name: "name too long", path: VS, body: JSON.stringify(vs("a".repeat(254))), status: 400, names: "metadata.name", field: "metadata.name" },
  { name: "name in the URL not DNS-1123 (PUT)", method: "PUT", path: `${VS}/Bad_Name`, body: JSON.stringify({ ...vs("x"), metadata: { namespace: "shop" } }), status: 400, names: "metadata.name", field: "metadata.name" },
  { name: "name with an encoded slash", method: "PUT", path: `${VS}/a%2Fb`, body: JSON.stringify({ ...vs("x"), metadata: {} }), status: 400, names: "metadata.name", field: "metadata.name" },
  { name: "namespace in the URL not DNS-1123", path: "/apis/networking.istio.io/v1/namespaces/Bad_NS/virtualservices", body: JSON.stringify({ ...vs("a"), metadata: { name: "a" } }), status: 400, names: "metadata.namespace", field: "metadata.namespace" },
  { name: "namespace in a list URL not DNS-1123", path: "/apis/networking.istio.io/v1/namespaces/%ZZ/virtualservices", status: 400, names: "metadata.namespace", field: "metadata.namespace" },
  { name: "namespace in a get URL not DNS-1123", path: "/apis/networking.istio.io/v1/namespaces/Shop/virtualservices/reviews", status: 400, names: "metadata.namespace", field: "metadata.namespace" },
  { name: "resourceVersion on create", path: VS, body: JSON.stringify(vs("fresh", { resourceVersion: "1" })), status: 400, names: "metadata.resourceVersion", field: "metadata.resourceVersion" },
  { name: "namespace mismatch", path: VS, body: JSON.stringify(vs("a", { namespace: "other" })), status: 400, names: "metadata.namespace", field: "metadata.namespace" },
  { name: "name mismatch on PUT", method: "PUT", path: `${VS}/reviews`, body: JSON.stringify(vs("ratings")), status: 400, names: "metadata.name", field: "metadata.name" },
  { name: "kind mismatch", path: VS, body: JSON.stringify({ ...vs("a"), kind: "Gateway" }), status: 400, names: "kind", field: "kind" },
  { name: "group mismatch", path: VS, body: JSON.stringify({ ...vs("a"), apiVersion: "security.istio.io/v1" }), status: 400, names: "apiVersion", field: "apiVersion" },
  { name: "unknown version in the body", path: VS, body: JSON.stringify({ ...vs("a"), apiVersion: "networking.istio.io/v7" }), status: 400, names: "apiVersion", field: "apiVersion" },
  { name: "metadata not an object", path: VS, body: JSON.stringify({ ...vs("a"), metadata: "a" }), status: 400, names: "metadata" },
  { name: "unknown spec field", path: VS, body: JSON.stringify({ ...vs("a"), spec: { hosts: ["a"], colour: "red" } }), status: 400, names: "spec.colour", field: "spec.colour" },
  { name: "apply: unknown kind", path: "/v1/apply", type: YAML_TYPE, body: "apiVersion: networking.istio.io/v1\nkind: Widget\nmetadata: {name: a}\n", status: 400, names: "documents[0]" },
  { name: "apply: bad default namespace", path: "/v1/apply?namespace=Bad_NS", body: JSON.stringify({ ...vs("a"), metadata: { name: "a" } }), status: 400, names: "documents[0].metadata.namespace" },
  { name: "apply: the same resource twice", path: "/v1/apply", body: JSON.stringify([vs("a"), vs("a")]), status: 400, names: "documents[1].metadata.name" },
  { name: "apply: bad dryRun", path: "/v1/apply?dryRun=maybe", body: JSON.stringify(vs("a")), status: 400, names: "dryRun", field: "dryRun" },
  { name: "apply: resourceVersion not a number", path: "/v1/apply", body: JSON.stringify(vs("reviews", { resourceVersion: "abc" })), status: 400, names: "documents[0].metadata.resourceVersion" },
  // Huge bodies.
  { name: "huge REST body", path: VS, body: JSON.stringify({ ...vs("a"), pad: "x".repeat(2 * 1024 * 1024) }), status: 413, names: "body", field: "body" },
  { name: "huge apply body", path: "/v1/apply", type: YAML_TYPE, body: `# ${"x".repeat(2 * 1024 * 1024)}\n`, status: 413, names: "body", field: "body" },
  // Preconditions.
  { name: "PUT resourceVersion not a number", method: "PUT", path: `${VS}/reviews`, body: JSON.stringify(vs("reviews", { resourceVersion: "abc" })), status: 400, names: "metadata.resourceVersion", field: "metadata.resourceVersion" },
  { name: "PUT resourceVersion an object", method: "PUT", path: `${VS}/reviews`, body: JSON.stringify(vs("reviews", { resourceVersion: { v: 1 } })), status: 400, names: "metadata.resourceVersion", field: "metadata.resourceVersion" },
  { name: "DELETE ?resourceVersion not a number", method: "DELETE", path: `${VS}/reviews?resourceVersion=x1`, status: 400, names: "resourceVersion", field: "resourceVersion" },
  { name: "DELETE with a broken body", method: "DELETE", path: `${VS}/reviews`, body: "{oops", status: 400, names: "body", field: "body" },
  { name: "DELETE with a bad precondition", method: "DELETE", path: `${VS}/reviews`, body: JSON.stringify({ preconditions: { resourceVersion: "v2" } }), status: 400, names: "preconditions.resourceVersion", field: "preconditions.resourceVersion" },
  { name: "PUT of a missing resource", method: "PUT", path: `${VS}/ghost`, body: JSON.stringify(vs("ghost")), status: 404, names: "ghost", field: "metadata.name" },
  { name: "DELETE of a missing resource", method: "DELETE", path: `${VS}/ghost`, status: 404, names: "ghost", field: "metadata.name" },
  { name: "stale resourceVersion", method: "PUT", path: `${VS}/reviews`, body: JSON.stringify(vs("reviews", { resourceVersion: "1000000" })), status: 409, names: "metadata.resourceVersion", field: "metadata.resourceVersion" },
  // Label selectors.
  { name: "labelSelector: unbalanced set", path: `${VS}?labelSelector=${encodeURIComponent("app in (a,b")}`, status: 400, names: "labelSelector", field: "labelSelector" },
  { name: "labelSelector: operator without key", path: `${VS}?labelSelector=${encodeURIComponent("==b")}`, status: 400, names: "labelSelector", field: "labelSelector" },
  { name: "labelSelector: bad value", path: `${VS}?labelSelector=${encodeURIComponent("a=b=c")}`, status: 400, names: "labelSelector", field: "labelSelector" },
  { name: "labelSelector: empty set", path: `${VS}?labelSelector=${encodeURIComponent("app in ()")}`, status: 400, names: "labelSelector", field: "labelSelector" },
  { name: "labelSelector: empty term", path: `${VS}?labelSelector=${encodeURIComponent("a=b,,c")}`, status: 400, names: "labelSelector", field: "labelSelector" },
  { name: "labelSelector: bad key", path: `/apis/networking.istio.io/v1/virtualservices?labelSelector=${encodeURIComponent("-a")}`, status: 400, names: "labelSelector", field: "labelSelector" },
  // Long-poll parameters.
  { name: "wait not a number", path: "/v1/snapshots/gateway?wait=soon", headers: { "if-none-match": '"1"' }, status: 400, names: "wait", field: "wait" },
  { name: "wait negative", path: "/v1/snapshots/gateway?wait=-1", headers: { "if-none-match": '"1"' }, status: 400, names: "wait", field: "wait" },
  { name: "wait in exponent form", path: "/v1/snapshots/gateway?wait=1e3", headers: { "if-none-match": '"1"' }, status: 400, names: "wait", field: "wait" },
  { name: "wait without If-None-Match", path: "/v1/snapshots/gateway?wait=Infinity", status: 400, names: "wait", field: "wait" },
  { name: "If-None-Match not a version", path: "/v1/snapshots/gateway", headers: { "if-none-match": '"abc"' }, status: 400, names: "If-None-Match", field: "If-None-Match" },
  { name: "If-None-Match list", path: "/v1/snapshots/gateway", headers: { "if-none-match": '"1", "2"' }, status: 400, names: "If-None-Match", field: "If-None-Match" },
  { name: "If-None-Match beyond safe integers", path: "/v1/snapshots/gateway", headers: { "if-none-match": '"99999999999999999999999"' }, status: 400, names: "If-None-Match", field: "If-None-Match" },
  { name: "proxy status reported by the admin", path: "/v1/proxies/status", body: JSON.stringify({ version: 1, hash: "0".repeat(64) }), status: 403, names: "node credentials" },
  { name: "node snapshot without a cluster as admin", path: "/v1/snapshots/nodes/a", status: 400, names: "cluster", field: "cluster" },
  // Revisions and rollback.
  { name: "rollback to revision 0", path: "/v1/rollback", body: JSON.stringify({ revision: 0 }), status: 400, names: "revision", field: "revision" },
  { name: "rollback to a negative revision", path: "/v1/rollback", body: JSON.stringify({ revision: -3 }), status: 400, names: "revision", field: "revision" },
  { name: "rollback to a string", path: "/v1/rollback", body: JSON.stringify({ revision: "abc" }), status: 400, names: "revision", field: "revision" },
  { name: "rollback to a numeric string", path: "/v1/rollback", body: JSON.stringify({ revision: "1" }), status: 400, names: "revision", field: "revision" },
  { name: "rollback to a fraction", path: "/v1/rollback", body: JSON.stringify({ revision: 1.5 }), status: 400, names: "revision", field: "revision" },
  { name: "rollback to an unsafe integer", path: "/v1/rollback", body: JSON.stringify({ revision: 1e300 }), status: 400, names: "revision", field: "revision" },
  { name: "rollback without a revision", path: "/v1/rollback", body: JSON.stringify({ rev: 1 }), status: 400, names: "revision", field: "revision" },
  { name: "rollback body an array", path: "/v1/rollback", body: JSON.stringify([1]), status: 400, names: "body", field: "body" },
  { name: "rollback body not JSON", path: "/v1/rollback", body: "revision=1", status: 400, names: "body", field: "body" },
  { name: "rollback to a future revision", path: "/v1/rollback", body: JSON.stringify({ revision: 999999 }), status: 404, names: "revision", field: "revision" },
  { name: "revision id not a number", path: "/v1/revisions/abc", status: 400, names: "id", field: "id" },
  { name: "revision id 0", path: "/v1/revisions/0", status: 400, names: "id", field: "id" },
  { name: "unknown revision id", path: "/v1/revisions/424242", status: 404, names: "424242", field: "id" },
  { name: "revisions limit 0", path: "/v1/revisions?limit=0", status: 400, names: "limit", field: "limit" },
  { name: "revisions limit too large", path: "/v1/revisions?limit=501", status: 400, names: "limit", field: "limit" },
  { name: "revisions before not a number", path: "/v1/revisions?before=yesterday", status: 400, names: "before", field: "before" },
];

describe("client mistakes on config routes are 4xx naming the field, never 5xx", () => {
  for (const c of cases) test(c.name, () => expectRefused(c).then(() => undefined));

  test("none of the refused requests wrote anything", async () => {
    assert.deepEqual(await snapshotOfStore(), state);
  });

  test("a streamed body without Content-Length is still capped (413)", async () => {
    // Chunked upload (no Content-Length) of just over the 1 MiB limit, then nothing more until the
    // answer: the worker answers 413 at the limit and closes. Writing on after that (as this test
    // once did, 2.5 MiB) raced the close: a write could fail with ECONNRESET before the 413 was read,
    // so the client never saw the answer. Write errors after the answer are still ignored.
    const chunk = Buffer.from(`# ${"x".repeat(64 * 1024)}\n`);
    const chunks = Math.ceil((MAX_CONFIG_BODY_BYTES + 1) / chunk.byteLength);
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      let answered = false;
      const req = http.request(new URL("/v1/apply", w.url), { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": YAML_TYPE, "transfer-encoding": "chunked" } }, (res) => {
        answered = true;
        clearTimeout(timer);
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (body += d));
        res.on("end", () => {
          resolve({ status: res.statusCode ?? 0, body });
          req.destroy();
        });
        res.on("error", reject);
      });
      const timer = setTimeout(() => {
        req.destroy();
        reject(new Error(`no answer after ${chunks} chunks (${chunks * chunk.byteLength} bytes, over the limit) were sent`));
      }, 30_000);
      req.on("error", (err) => {
        if (!answered) {
          clearTimeout(timer);
          reject(err);
        }
      });
      let sent = 0;
      const writeMore = (): void => {
        while (!answered && sent < chunks) {
          sent++;
          if (!req.write(chunk)) return void req.once("drain", writeMore);
        }
        // The body is not ended: the answer must come from the limit alone.
      };
      writeMore();
    });
    assert.equal(answer.status, 413, answer.body);
    assert.equal((JSON.parse(answer.body) as { error: { field?: string } }).error.field, "body");
  });
});
