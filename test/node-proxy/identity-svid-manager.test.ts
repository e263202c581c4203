// The SvidManager against the real control worker (workerd) and the real issuer: attestation
// with a join token and a locally generated key, workload SVIDs for the node's WorkloadEntries,
// renewal at about half life (short TTLs via X509_SVID_TTL_SECONDS / JWT_SVID_TTL_SECONDS),
// node renewal with proof of possession, the state directory (0600 keys), a restart from disk
// with the control plane stopped, and fail-closed once an SVID expires unrenewed.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, stat, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startControlWorker, type StartedWorker } from "../support/control-worker.ts";
import { createThrowawayCa, opensslVerify, type ThrowawayCa } from "../support/throwaway-ca.ts";
import { controlClient } from "../support/control-client.ts";
import { systemClock } from "../../src/core/clock.ts";
import { ControlApi } from "../../src/node-proxy/identity/control-api.ts";
import { SvidManager } from "../../src/node-proxy/identity/svid-manager.ts";
import { StateStore } from "../../src/node-proxy/config/state-store.ts";
import { x509 } from "../../src/identity/x509.ts";
import type { IdentityChange, ProxyLogger } from "../../src/node-proxy/context.ts";

const TTL = 16;
let ca: ThrowawayCa;
let worker: StartedWorker | undefined;
let stateDir: string;
const managers: SvidManager[] = [];
const { apply, joinToken, api } = controlClient<Record<string, any>>(() => worker as StartedWorker, () => ca.adminToken);
const logs: string[] = [];
const logger: ProxyLogger = { info: (m) => logs.push(m), warn: (m) => logs.push(m), error: (m) => logs.push(m) };

const reviews = () => `spiffe://${ca.trustDomain}/ns/shop/sa/reviews`;
const ratings = () => `spiffe://${ca.trustDomain}/ns/shop/sa/ratings`;

const CONFIG = `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-1, namespace: shop, labels: {strait.io/cluster: c1, strait.io/node: a}}
spec: {address: 10.0.0.1, serviceAccount: reviews, labels: {app: reviews}}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ratings-1, namespace: shop, labels: {strait.io/cluster: c1, strait.io/node: a}}
spec: {address: 10.0.0.2, serviceAccount: ratings, labels: {app: ratings}}
`;

function apiFor(w: StartedWorker | URL, bearer: () => string | undefined) {
  return new ControlApi({ baseUrl: w instanceof URL ? w : w.url, bearer });
}

async function startManager(token: string, baseUrl: URL): Promise<SvidManager> {
  let m: SvidManager | undefined;
  m = await SvidManager.start({
    api: apiFor(baseUrl, () => m?.bearer()),
    settings: { attestation: { kind: "join-token", token }, cluster: "c1", node: "a" },
    clock: systemClock,
    store: new StateStore(stateDir),
    logger,
    backoff: { baseMs: 200, capMs: 1000 },
  });
  managers.push(m);
  return m;
}

function waitFor(m: SvidManager, pred: (c: IdentityChange) => boolean, timeoutMs: number): Promise<IdentityChange> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      off();
      reject(new Error(`no matching identity change within ${timeoutMs} ms; log: ${logs.slice(-5).join(" | ")}`));
    }, timeoutMs);
    const off = m.onChange((c) => {
      if (!pred(c)) return;
      clearTimeout(t);
      off();
      resolve(c);
    });
  });
}

let baseUrl: URL;

before(async () => {
  ca = await createThrowawayCa();
  worker = await startControlWorker({ vars: { ...ca.vars, X509_SVID_TTL_SECONDS: String(TTL), JWT_SVID_TTL_SECONDS: String(TTL) } });
  baseUrl = worker.url;
  await apply(CONFIG);
  stateDir = await mkdtemp(join(tmpdir(), "strait-proxy-state-"));
});

after(async () => {
  for (const m of managers) m.close();
  await worker?.dispose();
  if (stateDir !== undefined) await rm(stateDir, { recursive: true, force: true });
});

describe("SvidManager against the control plane", () => {
  let m: SvidManager;

  test("attests with a join token; the node SVID carries the key generated here and verifies with openssl", async () => {
    m = await startManager(await joinToken("c1", "a"), baseUrl);
    assert.equal(m.nodeSpiffeId(), `spiffe://${ca.trustDomain}/node/c1/a`);
    const node = m.credentialsFor(m.nodeSpiffeId());
    assert.ok(node);
    const leafPem = x509.PemConverter.encode(x509.PemConverter.decode(node.certChainPem)[0] as ArrayBuffer, "CERTIFICATE");
    assert.match(await opensslVerify(ca.root.certificatePem, ca.intermediate.certificatePem, leafPem), /OK$/);
    assert.ok(m.bearer(), "a JWT-SVID for the control API");
    assert.equal(m.bundle().trustDomain, ca.trustDomain);
  });

  test("fetches X.509-SVIDs for the node's workloads; refuses nothing silently", async () => {
    await m.setWorkloads([reviews(), ratings()]);
    for (const id of [reviews(), ratings()]) {
      const c = m.credentialsFor(id);
      assert.ok(c, `held ${id}`);
      const leaf = new x509.X509Certificate(x509.PemConverter.decode(c.certChainPem)[0] as ArrayBuffer);
      assert.deepEqual(leaf.getExtension(x509.SubjectAlternativeNameExtension)?.names.items.map((n) => n.value), [id]);
      assert.ok(c.notAfter - c.notBefore <= (TTL + 31) * 1000, "short TTL from the control plane's setting (+30 s backdate)");
    }
  });

  test("an identity not registered to this node is refused by the control plane and never held", async () => {
    const stranger = `spiffe://${ca.trustDomain}/ns/shop/sa/stranger`;
    await m.setWorkloads([reviews(), ratings(), stranger]);
    assert.equal(m.credentialsFor(stranger), undefined);
    assert.ok(m.credentialsFor(reviews()));
    await m.setWorkloads([reviews(), ratings()]);
  });

  test("state directory: identity.json is 0600 in a 0700 directory and holds the keys; bundle.json is public", async () => {
    assert.equal((await stat(join(stateDir, "identity.json"))).mode & 0o777, 0o600);
    assert.equal((await stat(stateDir)).mode & 0o777, 0o700);
    assert.equal((await stat(join(stateDir, "bundle.json"))).mode & 0o777, 0o644);
    const persisted = JSON.parse(await readFile(join(stateDir, "identity.json"), "utf8"));
    assert.deepEqual(persisted.workloads.map((w: { spiffeId: string }) => w.spiffeId).sort(), [ratings(), reviews()]);
  });

  test("every SVID is renewed at about half its life: new serials for workloads and for the node (proof of possession)", async () => {
    const before = { reviews: m.credentialsFor(reviews())?.serial, node: m.credentialsFor(m.nodeSpiffeId())?.serial };
    const issuedAt = Date.now();
    const renewedWorkload = waitFor(m, (c) => c.kind === "svid" && c.spiffeId === reviews(), (TTL + 5) * 1000);
    const renewedNode = waitFor(m, (c) => c.kind === "svid" && c.spiffeId === m.nodeSpiffeId(), (TTL + 5) * 1000);
    await Promise.all([renewedWorkload, renewedNode]);
    const elapsed = (Date.now() - issuedAt) / 1000;
    assert.ok(elapsed < TTL, `renewed before expiry (after ${elapsed}s of a ${TTL}s life)`);
    const after = { reviews: m.credentialsFor(reviews())?.serial, node: m.credentialsFor(m.nodeSpiffeId())?.serial };
    assert.notEqual(after.reviews, before.reviews);
    assert.notEqual(after.node, before.node);
    assert.ok(m.status().every((s) => s.state === "valid"), JSON.stringify(m.status()));
    // The control plane recorded a proof-of-possession renewal for the node.
    const audit = await api(`/v1/audit?action=identity.renew`, { token: ca.adminToken });
    assert.equal(audit.status, 200, audit.text);
    assert.ok(JSON.stringify(audit.body).includes(m.nodeSpiffeId()), audit.text.slice(0, 500));
  });

  test("restart with the control plane stopped: identity comes back from disk; unrenewable SVIDs then fail closed", async () => {
    m.close();
    await worker?.dispose();
    worker = undefined;
    const restarted = await startManager("join-token-not-needed", baseUrl);
    assert.equal(restarted.nodeSpiffeId(), `spiffe://${ca.trustDomain}/node/c1/a`);
    await restarted.setWorkloads([reviews(), ratings()]);
    const held = restarted.credentialsFor(reviews());
    assert.ok(held, "restored from the state directory while the control plane is down");
    const expired = waitFor(restarted, (c) => c.kind === "expired" && c.spiffeId === reviews(), held.notAfter - Date.now() + 5000);
    await expired;
    assert.equal(restarted.credentialsFor(reviews()), undefined, "an SVID that could not be renewed is withdrawn at expiry");
    assert.equal(restarted.status().find((s) => s.spiffeId === reviews())?.state, "expired");
  });
});
