/**
 * Istio's documented examples through the real API in workerd: every fixture
 * file is POSTed to /v1/apply byte for byte and read back; invalid variants are
 * refused with the field path and write nothing; GET /v1/analyze returns the
 * analyzer's findings on the stored config; every write is audited.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startControlWorker, type StartedWorker } from "../support/control-worker.ts";
import { createThrowawayCa } from "../support/throwaway-ca.ts";
import { readJson } from "../support/control-client.ts";
import { parseDocuments } from "../../src/core/config/parse-documents.ts";
import { findKind, KINDS, type AnyResource } from "../../src/core/config/resource.ts";
import { analyze, FINDING_CODES } from "../../src/core/config/analyze.ts";

const FIXTURES = join(import.meta.dirname, "../fixtures/istio");
const files = readdirSync(FIXTURES).filter((f) => f.endsWith(".yaml")).sort();

let w: StartedWorker;
let token: string;

const json = readJson<Record<string, any>>;
const auth = (type?: string): Record<string, string> => ({ authorization: `Bearer ${token}`, ...(type === undefined ? {} : { "content-type": type }) });

async function latestRevision(): Promise<number> {
  return Number((await json(await w.fetch("/v1/revisions?limit=1", { headers: auth() }))).revisions[0]?.id ?? 0);
}

/** Everything stored, read back through the list endpoints of each kind. */
async function storedResources(): Promise<AnyResource[]> {
  const out: AnyResource[] = [];
  for (const k of KINDS) out.push(...((await json(await w.fetch(`/apis/${k.group}/${k.versions[0]}/${k.plural}`, { headers: auth() }))).items as AnyResource[]));
  return out;
}

before(async () => {
  const ca = await createThrowawayCa();
  w = await startControlWorker({ vars: ca.vars });
  token = ca.adminToken;
});
after(async () => {
  await w?.dispose();
});

interface Doc {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec: unknown;
}

/**
 * The file as the Istio task applies it: its documents in order, cut into
 * verbatim multi-document steps. Files that collect several steps of one task
 * redefine a resource (e.g. the same AuthorizationPolicy tightened twice);
 * like the task, such a redefinition starts a new `kubectl apply`.
 */
function stepsOf(text: string): { text: string; docs: Doc[] }[] {
  const segments = text.split(/^---[ \t]*$/m).filter((seg) => parseDocuments(seg).length > 0);
  const steps: { text: string; docs: Doc[]; keys: Set<string> }[] = [];
  for (const seg of segments) {
    const docs = parseDocuments(seg) as Doc[];
    const keys = docs.map((d) => `${d.kind}/${d.metadata.namespace ?? "default"}/${d.metadata.name}`);
    const last = steps[steps.length - 1];
    if (last !== undefined && keys.every((k) => !last.keys.has(k))) {
      last.text += `---${seg}`;
      last.docs.push(...docs);
      for (const k of keys) last.keys.add(k);
    } else steps.push({ text: seg, docs, keys: new Set(keys) });
  }
  return steps;
}

describe("Istio's documented examples apply unchanged through POST /v1/apply", () => {
  for (const file of files) {
    test(`${file}: applied as published, every document read back as sent`, async () => {
      const text = readFileSync(join(FIXTURES, file), "utf8");
      const steps = stepsOf(text);
      assert.deepEqual(steps.flatMap((st) => st.docs), parseDocuments(text), "the steps hold every document, in order");
      for (const step of steps) {
        const r = await w.fetch("/v1/apply", { method: "POST", headers: auth("application/yaml"), body: step.text });
        const body = await json(r);
        assert.equal(r.status, 200, JSON.stringify(body));
        assert.equal(body.results.length, step.docs.length);
        for (const [i, doc] of step.docs.entries()) {
          const namespace = doc.metadata.namespace ?? "default";
          assert.deepEqual(
            { kind: body.results[i].kind, namespace: body.results[i].namespace, name: body.results[i].name },
            { kind: doc.kind, namespace, name: doc.metadata.name },
          );
          assert.ok(["created", "configured", "unchanged"].includes(body.results[i].action));
          // Read back at the apiVersion the example was written for (v1alpha3, v1beta1 or v1).
          const info = findKind(doc.apiVersion, doc.kind);
          assert.ok(info, `${doc.apiVersion} ${doc.kind} is served`);
          const got = await json(await w.fetch(`/apis/${doc.apiVersion}/namespaces/${namespace}/${info.plural}/${doc.metadata.name}`, { headers: auth() }));
          assert.equal(got.apiVersion, doc.apiVersion);
          assert.equal(got.kind, doc.kind);
          assert.deepEqual(got.spec, doc.spec, `${file}: ${doc.kind} ${doc.metadata.name} spec read back unchanged`);
          assert.deepEqual(got.metadata.labels, doc.metadata.labels);
          assert.equal(got.metadata.resourceVersion, body.results[i].resourceVersion);
        }
      }
    });
  }

  test("a file that defines one resource twice is refused as a whole, naming both documents", async () => {
    const text = readFileSync(join(FIXTURES, "authz-deny.yaml"), "utf8");
    const before = await latestRevision();
    const r = await w.fetch("/v1/apply", { method: "POST", headers: auth("application/yaml"), body: text });
    const body = await json(r);
    assert.equal(r.status, 400);
    assert.equal(body.error.field, "documents[1].metadata.name");
    assert.match(body.error.message, /documents\[0\]/);
    assert.equal(await latestRevision(), before);
  });

  test("re-applying the last step of every example changes nothing", async () => {
    const before = await latestRevision();
    for (const file of files) {
      const steps = stepsOf(readFileSync(join(FIXTURES, file), "utf8"));
      const last = steps[steps.length - 1]!;
      const body = await json(await w.fetch("/v1/apply", { method: "POST", headers: auth("application/yaml"), body: last.text }));
      if (body.revision === null) assert.ok(body.results.every((x: any) => x.action === "unchanged"), file);
      const again = await json(await w.fetch("/v1/apply", { method: "POST", headers: auth("application/yaml"), body: last.text }));
      assert.equal(again.revision, null, `${file}: the same step applied twice in a row changes nothing`);
    }
    assert.ok((await latestRevision()) >= before);
  });
});

/** Invalid variants of the published examples, each with the path the refusal must name. */
const INVALID: { name: string; file: string; doc: number; mutate: (d: any) => void; path: string }[] = [
  { name: "negative route weight", file: "virtual-service-reviews-80-20.yaml", doc: 0, mutate: (d) => (d.spec.http[0].route[1].weight = -20), path: "documents[0].spec.http[0].route[1].weight" },
  { name: "bad timeout duration", file: "request-timeouts.yaml", doc: 1, mutate: (d) => (d.spec.http[0].timeout = "half a second"), path: "documents[0].spec.http[0].timeout" },
  { name: "fault percentage over 100", file: "virtual-service-ratings-test-abort.yaml", doc: 0, mutate: (d) => (d.spec.http[0].fault.abort.percentage.value = 101), path: "documents[0].spec.http[0].fault.abort.percentage.value" },
  { name: "unknown field", file: "destination-rule-all.yaml", doc: 0, mutate: (d) => (d.spec.subsetz = []), path: "documents[0].spec.subsetz" },
  { name: "string match with two of exact/prefix/regex", file: "virtual-service-reviews-test-v2.yaml", doc: 0, mutate: (d) => (d.spec.http[0].match[0].headers["end-user"].prefix = "j"), path: "documents[0].spec.http[0].match[0].headers.end-user" },
  { name: "circuit breaker with a negative pool size", file: "circuit-breaking.yaml", doc: 0, mutate: (d) => (d.spec.trafficPolicy.connectionPool.tcp.maxConnections = -1), path: "documents[0].spec.trafficPolicy.connectionPool.tcp.maxConnections" },
  { name: "authorization policy with an unknown action", file: "authz-deny.yaml", doc: 0, mutate: (d) => (d.spec.action = "BLOCK"), path: "documents[0].spec.action" },
  { name: "PeerAuthentication with an unknown mode", file: "authn-policy.yaml", doc: 0, mutate: (d) => (d.spec.mtls = { mode: "SOMETIMES" }), path: "documents[0].spec.mtls.mode" },
  { name: "RequestAuthentication with a bad jwksUri", file: "authz-jwt.yaml", doc: 0, mutate: (d) => (d.spec.jwtRules[0].jwksUri = "not a url"), path: "documents[0].spec.jwtRules[0].jwksUri" },
  { name: "gateway port out of range", file: "bookinfo-gateway.yaml", doc: 0, mutate: (d) => (d.spec.servers[0].port.number = 70000), path: "documents[0].spec.servers[0].port.number" },
];

describe("invalid variants of the examples are refused with the field path and write nothing", () => {
  for (const c of INVALID) {
    test(c.name, async () => {
      const docs = parseDocuments(readFileSync(join(FIXTURES, c.file), "utf8")) as any[];
      const doc = structuredClone(docs[c.doc]);
      assert.ok(doc !== undefined, `${c.file} has document ${c.doc}`);
      c.mutate(doc);
      const before = await latestRevision();
      const r = await w.fetch("/v1/apply", { method: "POST", headers: auth("application/json"), body: JSON.stringify(doc) });
      const body = await json(r);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(body.error.code, "ERR_CONFIG_INVALID");
      const paths = (body.error.details as { path: string }[]).map((d) => d.path);
      assert.ok(paths.some((p) => p === c.path || p.startsWith(`${c.path}.`) || p.startsWith(`${c.path}[`)), `${JSON.stringify(paths)} names ${c.path}`);
      assert.ok(body.error.message.startsWith(`${paths[0]}:`), "the message starts with the first path");
      assert.equal(await latestRevision(), before, "nothing written");
    });
  }
});

const LINT = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: reviews, namespace: lint}
spec:
  hosts: [reviews.lint.svc.cluster.local]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 9080, name: http, protocol: HTTP}]
  workloadSelector: {labels: {app: reviews}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: lint}
spec:
  host: reviews
  subsets: [{name: v1, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews, namespace: lint}
spec:
  hosts: [reviews]
  gateways: [no-such-gateway]
  http: [{route: [{destination: {host: reviews, subset: v9}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews-copy, namespace: lint}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: nowhere}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews-again, namespace: lint}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews}}]}]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ghosts, namespace: lint}
spec:
  selector: {matchLabels: {app: ghost}}
  action: DENY
  rules: [{to: [{operation: {methods: [DELETE]}}]}]
`;

describe("GET /v1/analyze", () => {
  test("returns the analyzer's findings on the stored config, each with a stable code, level and resource", async () => {
    const applied = await w.fetch("/v1/apply", { method: "POST", headers: auth("application/yaml"), body: LINT });
    assert.equal(applied.status, 200, await applied.clone().text());
    const r = await w.fetch("/v1/analyze", { headers: auth() });
    assert.equal(r.status, 200);
    const { findings } = await json(r);
    const lint = (findings as any[]).filter((f) => f.resource.namespace === "lint");
    const has = (code: string, kind: string, name: string, text: RegExp) =>
      assert.ok(
        lint.some((f) => f.code === code && f.resource.kind === kind && f.resource.name === name && text.test(f.message)),
        `${code} on ${kind}/${name} matching ${text}: ${JSON.stringify(lint)}`,
      );
    has("IST0101", "VirtualService", "reviews", /subset/i);
    has("IST0101", "VirtualService", "reviews", /gateway/i);
    has("IST0101", "VirtualService", "reviews-copy", /nowhere/);
    has("IST0109", "VirtualService", "reviews-again", /reviews/);
    has("IST0127", "AuthorizationPolicy", "ghosts", /./);
    for (const f of findings as any[]) {
      assert.ok(f.code in FINDING_CODES, `${f.code} is a documented code`);
      assert.equal(f.level, FINDING_CODES[f.code as keyof typeof FINDING_CODES].level);
      assert.equal(typeof f.message, "string");
    }
    // Exactly what the runtime-free analyzer says about the same stored resources.
    assert.deepEqual(findings, analyze(await storedResources(), { rootNamespace: "strait-system" }));
  });

  test("needs read access to every namespace", async () => {
    assert.equal((await w.fetch("/v1/analyze")).status, 401);
    const minted = await json(await w.fetch("/v1/tokens", { method: "POST", headers: auth("application/json"), body: JSON.stringify({ subject: "lint-bot", namespaces: ["lint"], access: "read" }) }));
    const scoped = await w.fetch("/v1/analyze", { headers: { authorization: `Bearer ${minted.token}` } });
    assert.equal(scoped.status, 403);
  });
});

describe("every write is audited", () => {
  test("create, update, delete, apply and rollback each leave an audit event naming the caller and target", async () => {
    const DR = "/apis/networking.istio.io/v1/namespaces/audited/destinationrules";
    const doc = (host: string) => ({ apiVersion: "networking.istio.io/v1", kind: "DestinationRule", metadata: { name: "r" }, spec: { host } });
    const start = await latestRevision();
    assert.equal((await w.fetch(DR, { method: "POST", headers: auth("application/json"), body: JSON.stringify(doc("a")) })).status, 201);
    assert.equal((await w.fetch(`${DR}/r`, { method: "PUT", headers: auth("application/json"), body: JSON.stringify(doc("b")) })).status, 200);
    assert.equal((await w.fetch(`${DR}/r`, { method: "DELETE", headers: auth() })).status, 200);
    const applied = await json(await w.fetch("/v1/apply?namespace=audited", { method: "POST", headers: auth("application/yaml"), body: "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: s}\nspec: {host: s}\n" }));
    assert.equal(typeof applied.revision, "number");
    const rb = await json(await w.fetch("/v1/rollback", { method: "POST", headers: auth("application/json"), body: JSON.stringify({ revision: start + 1 }) }));
    assert.equal(typeof rb.revision, "number");

    const events = async (action: string) => (await json(await w.fetch(`/v1/audit?action=${action}`, { headers: auth() }))).events as any[];
    const expectEvent = async (action: string, target: RegExp) => {
      const found = (await events(action)).filter((e) => target.test(e.target));
      assert.ok(found.length >= 1, `${action} on ${target} is audited`);
      for (const e of found) {
        assert.equal(e.actor, "admin");
        assert.equal(e.outcome, "success");
        assert.equal(typeof e.detail.changes, "number");
      }
    };
    await expectEvent("config.create", /^DestinationRule\/audited\/r$/);
    await expectEvent("config.update", /^DestinationRule\/audited\/r$/);
    await expectEvent("config.delete", /^DestinationRule\/audited\/r$/);
    await expectEvent("config.apply", /audited/);
    await expectEvent("config.rollback", new RegExp(`^revision/${start + 1}$`));
    // And the revision log records who and when for each.
    const revs = (await json(await w.fetch("/v1/revisions?limit=5", { headers: auth() }))).revisions as any[];
    assert.deepEqual(revs.map((r) => r.operation), ["rollback", "apply", "delete", "update", "create"]);
    for (const rev of revs) {
      assert.equal(rev.actor, "admin");
      assert.ok(!Number.isNaN(Date.parse(rev.at)));
    }
  });
});
