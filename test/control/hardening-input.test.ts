// Issue-6 attack findings 2, 3 and 4, end to end in real workerd: YAML alias bombs, refused
// anonymous requests flooding the audit log with attacker-chosen bytes, and truncated bodies.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { connect } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { projectRoot, startControlWorker, type StartedWorker } from "../support/control-worker.ts";
import { createThrowawayCa, type ThrowawayCa } from "../support/throwaway-ca.ts";
import { controlClient } from "../support/control-client.ts";
import { MAX_EXPANDED_DOCUMENT_BYTES } from "../../src/core/config/parse-documents.ts";
import { startEdgeMesh, type EdgeMesh } from "../support/edge-gateway-mesh.ts";

const run = promisify(execFile);
let ca: ThrowawayCa;
let worker: StartedWorker;
const { api } = controlClient<any>(() => worker, () => ca.adminToken);

before(async () => {
  ca = await createThrowawayCa();
  worker = await startControlWorker({ vars: ca.vars });
});

after(async () => {
  await worker?.dispose();
});

async function sqlRows(sql: string): Promise<Record<string, unknown>[]> {
  const { stdout } = await run(
    process.execPath,
    [join(projectRoot, "node_modules/wrangler/bin/wrangler.js"), "d1", "execute", "DB", "--local", "--env", "control", "--persist-to", worker.persistDir, "--json", "--command", sql],
    { cwd: join(worker.persistDir, ".."), env: { ...process.env, CI: "true" }, maxBuffer: 16 * 1024 * 1024 },
  );
  return (JSON.parse(stdout) as { results: Record<string, unknown>[] }[])[0]?.results ?? [];
}

/** One ServiceEntry whose `spec.addresses`-free body carries an anchored list referenced `refs` times. */
function aliasBomb(items: number, refs: number): string {
  const list = Array.from({ length: items }, (_, i) => `"10.0.${Math.floor(i / 250)}.${i % 250}-padding-padding-padding"`).join(", ");
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: bomb
  namespace: tenant
  labels: {a: b}
  annotations:
    list: &l [${list}]
spec:
  hosts: [bomb.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: NONE
x-refs:
${Array.from({ length: refs }, () => "  - *l").join("\n")}
`;
}

describe("finding 2: YAML aliases cannot multiply a small body", () => {
  const bomb = aliasBomb(2_000, 99);

  test("the body is small, its expansion is not", () => {
    assert.ok(bomb.length < 120_000, `${bomb.length} bytes`);
    assert.ok(bomb.length * 99 > MAX_EXPANDED_DOCUMENT_BYTES);
  });

  for (const [name, path] of [["apply", "/v1/apply"], ["apply ?dryRun=true", "/v1/apply?dryRun=true"]] as const) {
    test(`${name} answers 413 naming the expansion, before expanding`, async () => {
      const r = await api(path, { token: ca.adminToken, body: bomb, contentType: "application/yaml" });
      assert.equal(r.status, 413, r.text.slice(0, 300));
      assert.equal(r.body.error.field, "body");
      assert.match(r.body.error.message, /expands to more than \d+ bytes once YAML aliases are resolved/);
      assert.ok(r.text.length < 2_000, "the refusal is small");
    });
  }

  test("a read-only token's dry run gets the same short 413, not a 25 MB diff", async () => {
    const t = await api("/v1/tokens", { token: ca.adminToken, json: { subject: "reader", namespaces: ["tenant"], access: "read" } });
    assert.equal(t.status, 201, t.text);
    const r = await api("/v1/apply?dryRun=true", { token: t.body.token, body: bomb, contentType: "application/yaml" });
    assert.ok(r.status === 413 || r.status === 403, `${r.status}: ${r.text.slice(0, 200)}`);
    assert.ok(r.text.length < 2_000);
  });

  test("the Kubernetes-style PUT of one YAML resource is bounded too", async () => {
    const r = await api("/apis/networking.istio.io/v1/namespaces/tenant/serviceentries/bomb", { method: "PUT", token: ca.adminToken, body: bomb, contentType: "application/yaml" });
    assert.equal(r.status, 413, r.text.slice(0, 300));
  });

  test("many small documents cannot add up past the total bound", async () => {
    const doc = aliasBomb(400, 20); // ~20 KB body, ~0.4 MB expanded, under the per-document bound
    const r = await api("/v1/apply?dryRun=true", { token: ca.adminToken, body: Array.from({ length: 24 }, () => doc).join("---\n"), contentType: "application/yaml" });
    assert.equal(r.status, 413, r.text.slice(0, 300));
    assert.match(r.body.error.message, /in all once YAML aliases are resolved/);
  });

  test("aliases within the bounds still work", async () => {
    const r = await api("/v1/apply?dryRun=true", {
      token: ca.adminToken,
      contentType: "application/yaml",
      // Anchors are per document in YAML: the alias is used within its own document.
      body: `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: small, namespace: tenant}
spec:
  hosts: &h [small.example.com]
  http:
  - match: [{headers: {x-team: &team {exact: blue}}}]
    route: [{destination: {host: small.example.com, subset: blue}}]
  - match: [{headers: {x-other-team: *team}}]
    route: [{destination: {host: small.example.com}}]
`,
    });
    assert.equal(r.status, 200, r.text);
  });
});

describe("finding 3: refused anonymous requests are counted, not stored one by one", () => {
  // An unverified JWT whose header carries an 11 KB kid with an 8-bit CSI and a right-to-left override.
  const hostileKid = `k\u009b31m\u202e${"x".repeat(11_000)}`;
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const forged = `${b64({ alg: "ES256", kid: hostileKid, typ: "JWT" })}.${b64({ sub: "spiffe://strait.local/node/c/n", aud: ["strait-control"], exp: 4102444800 })}.${"A".repeat(86)}`;

  test("the 401 echoes no more than a short, printable excerpt of the token", async () => {
    const r = await worker.fetch("/v1/config/revisions", { headers: { authorization: `Bearer ${forged}` } });
    const text = await r.text();
    assert.equal(r.status, 401, text.slice(0, 300));
    assert.ok(text.length < 1_000, `${text.length} bytes`);
    assert.ok(!text.includes("\u009b") && !text.includes("\u202e"), "no C1 control or bidi override in the body");
  });

  test("200 refusals from one source make one counter, no audit rows, and keep nothing of the token", async () => {
    const source = "198.51.100.23";
    const before = await sqlRows("SELECT count(*) AS n FROM audit_events");
    const statuses: number[] = [];
    for (let batch = 0; batch < 10; batch++) {
      statuses.push(
        ...(await Promise.all(
          Array.from({ length: 20 }, () => worker.fetch("/v1/tokens", { headers: { authorization: `Bearer ${forged}`, "cf-connecting-ip": source } }).then(async (r) => (await r.arrayBuffer(), r.status))),
        )),
      );
    }
    assert.ok(statuses.every((s) => s === 401), String(new Set(statuses)));
    const afterRows = await sqlRows("SELECT count(*) AS n FROM audit_events");
    assert.equal(afterRows[0]?.n, before[0]?.n, "no audit row per anonymous refusal");
    const counters = await sqlRows("SELECT source, code, count, sample FROM audit_refusals");
    const total = counters.reduce((n, r) => n + Number(r.count), 0);
    assert.ok(total >= 200, JSON.stringify(counters));
    assert.ok(counters.length <= 4, `a handful of counters (per source, code and minute), got ${counters.length}`);
    for (const row of counters) {
      assert.ok(String(row.sample).length <= 128);
      assert.ok(!JSON.stringify(row).includes("xxxxxxxxxx"), "nothing of the token is stored");
    }
    const listed = await api("/v1/audit/refusals", { token: ca.adminToken });
    assert.equal(listed.status, 200, listed.text);
    assert.ok(listed.body.refusals.length >= 1);
    assert.ok(listed.body.refusals.every((r: { count: number }) => r.count >= 1));
  });

  test("the refusal counters are admin-only", async () => {
    const r = await api("/v1/audit/refusals", {});
    assert.equal(r.status, 401);
  });

  test("retention: the cron removes audit events and refusal counters past their age", async () => {
    const old = Date.UTC(2001, 0, 1);
    await sqlRows(`INSERT INTO audit_events (at, actor, action, target, outcome, detail) VALUES (${old}, 'admin', 'config.apply', 'x', 'success', NULL)`);
    await sqlRows(`INSERT INTO audit_refusals (minute, source, code, count, first_at, last_at, sample) VALUES (${old}, '192.0.2.1', 'ERR_UNAUTHENTICATED', 3, ${old}, ${old}, 'GET /')`);
    const r = await worker.fetch("/cdn-cgi/handler/scheduled?cron=17+*+*+*+*");
    assert.equal(r.status, 200, await r.text());
    // The scheduled handler finishes its waitUntil before the local runtime answers; poll briefly in case it does not.
    for (let i = 0; i < 50; i++) {
      const [ev, rf] = await Promise.all([sqlRows(`SELECT count(*) AS n FROM audit_events WHERE at = ${old}`), sqlRows(`SELECT count(*) AS n FROM audit_refusals WHERE minute = ${old}`)]);
      if (ev[0]?.n === 0 && rf[0]?.n === 0) return;
      await new Promise((res) => setTimeout(res, 100));
    }
    assert.fail("old audit rows were not pruned");
  });
});

describe("finding 4: a body shorter than its Content-Length", () => {
  // Straight to the control worker's own socket in Miniflare (real workerd): wrangler dev's proxy
  // in front of `startControlWorker` answers a truncated body itself, before our code runs.
  let mesh: EdgeMesh | undefined;
  after(async () => {
    await mesh?.dispose();
  });

  test("is a 400 naming the body, not a 500", async () => {
    mesh = await startEdgeMesh({ controlVars: ca.vars });
    const url = mesh.controlUrl;
    const raw = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname);
      let out = "";
      socket.on("data", (d) => (out += d.toString()));
      socket.on("end", () => resolve(out));
      socket.on("close", () => resolve(out));
      socket.on("error", reject);
      socket.write(`POST /v1/apply HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${ca.adminToken}\r\nContent-Type: application/yaml\r\nContent-Length: 5000\r\nConnection: close\r\n\r\napiVersion: v1\n`);
      // The worker is reading the body by now; then the client stops short of its Content-Length.
      setTimeout(() => socket.end(), 1_000);
      setTimeout(() => socket.destroy(), 20_000).unref();
    });
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1]);
    assert.equal(status, 400, raw.slice(0, 400));
    assert.match(raw, /"field":"body"/);
    assert.match(raw, /ended after \d+ of the 5000 bytes Content-Length announced/);
  });
});
