// A Kubernetes (PSAT) node and the two expiries, against the real control worker: with only its
// JWT-SVID expired it renews by proof of possession of its X.509-SVID key alone (the projected
// token file is even gone: no re-attestation happens); with its X.509-SVID expired too it attests
// again by itself with a fresh projected token, as a SPIRE agent with a re-attestable attestor does.
// The SvidManager runs on a controllable clock (now + an offset the test sets just past an expiry)
// with no timers of its own, so each renewal happens when the test asks for it. Also: the
// ControlApi reauthenticates (renews) when the control plane refuses the JWT-SVID, then retries.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeJwt, exportJWK, generateKeyPair, type CryptoKey as JoseKey } from "jose";
import { startControlWorker, type StartedWorker } from "../support/control-worker.ts";
import { createThrowawayCa, type ThrowawayCa } from "../support/throwaway-ca.ts";
import { attestNode, callApi } from "../support/control-client.ts";
import type { Clock } from "../../src/core/clock.ts";
import { ControlApi } from "../../src/node-proxy/identity/control-api.ts";
import { ControlApiError } from "../../src/node-proxy/identity/errors.ts";
import { SvidManager } from "../../src/node-proxy/identity/svid-manager.ts";
import type { Scheduler } from "../../src/node-proxy/identity/renewal-schedule.ts";
import { StateStore } from "../../src/node-proxy/config/state-store.ts";
import type { ProxyLogger } from "../../src/node-proxy/context.ts";
import { projectedToken } from "../support/k8s-projected-token.ts";

const ISSUER = "https://kubernetes.default.svc.cluster.local";
let ca: ThrowawayCa;
let worker: StartedWorker;
let apiServerKey: JoseKey;
let dir: string;
let manager: SvidManager | undefined;
const logs: string[] = [];
const logger: ProxyLogger = { info: (m) => logs.push(m), warn: (m) => logs.push(m), error: (m) => logs.push(m) };

class OffsetClock implements Clock {
  offset = 0;
  now(): number {
    return Date.now() + this.offset;
  }
  /** Moves the clock to `at` + `ms` on its own scale. */
  justAfter(at: number, ms = 500): void {
    this.offset = at + ms - Date.now();
  }
}

/** Timers that never fire: renewals happen when the test calls them. */
const manualScheduler: Scheduler = { schedule: () => ({ cancel() {} }) };

function psat(node: string): Promise<string> {
  return projectedToken(apiServerKey, { issuer: ISSUER, node });
}

async function auditCount(spiffeId: string, action: string): Promise<{ count: number; proofs: unknown[] }> {
  const r = await callApi<{ events: { detail: { proof?: unknown } }[] }>(worker, `/v1/audit?target=${encodeURIComponent(spiffeId)}&action=${action}`, { token: ca.adminToken });
  assert.equal(r.status, 200, r.text);
  return { count: r.body.events.length, proofs: r.body.events.map((e) => e.detail.proof) };
}

/** Real time passes between two issues, so a credential issued after the clock jump outlives the jump. */
async function atLeastSince(t: number, ms: number): Promise<void> {
  const wait = t + ms - Date.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}

before(async () => {
  ca = await createThrowawayCa();
  const pair = await generateKeyPair("ES256");
  apiServerKey = pair.privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
  const clusters = { prod: { issuer: ISSUER, audience: "strait", jwks: { keys: [jwk] }, allowedServiceAccounts: ["strait-system:strait-node-proxy"] } };
  worker = await startControlWorker({ vars: { ...ca.vars, K8S_CLUSTERS: JSON.stringify(clusters) } });
  dir = await mkdtemp(join(tmpdir(), "strait-proxy-pop-psat-"));
});

after(async () => {
  manager?.close();
  await worker?.dispose();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe("PSAT node: JWT-SVID expired, then X.509-SVID expired", () => {
  test("JWT-SVID expired: renewal by X.509 proof of possession alone, no re-attestation; X.509-SVID expired: attests again with a fresh projected token", async () => {
    const clock = new OffsetClock();
    const tokenPath = join(dir, "token");
    await writeFile(tokenPath, await psat("worker-1"));
    let m: SvidManager | undefined;
    m = await SvidManager.start({
      api: new ControlApi({ baseUrl: worker.url, bearer: () => m?.bearer() }),
      settings: { attestation: { kind: "k8s-psat", tokenPath, cluster: "prod" }, cluster: "prod", node: "worker-1" },
      clock,
      store: new StateStore(join(dir, "state")),
      logger,
      scheduler: manualScheduler,
      backoff: { baseMs: 100, capMs: 500 },
    });
    manager = m;
    const id = m.nodeSpiffeId();
    const attested = m.credentialsFor(id);
    assert.ok(attested);
    const attestedAt = Date.now();
    assert.equal((await auditCount(id, "identity.attest")).count, 1);

    // Only the JWT-SVID has expired (5 minutes), the X.509-SVID (1 hour) has not. The projected token is gone.
    await atLeastSince(attestedAt, 3000);
    clock.justAfter((decodeJwt(m.bearer() as string).exp as number) * 1000);
    assert.equal(m.bearer(), undefined, "JWT-SVID expired on the node's clock");
    assert.ok(m.credentialsFor(id), "X.509-SVID still valid");
    await rm(tokenPath);
    await m.renewNode();
    const renewed = m.credentialsFor(id);
    assert.ok(renewed, `renewed: ${logs.slice(-3).join(" | ")}`);
    assert.notEqual(renewed.serial, attested.serial);
    assert.ok(m.bearer(), "a fresh JWT-SVID");
    assert.deepEqual(await auditCount(id, "identity.renew"), { count: 1, proofs: ["x509-pop"] });
    assert.equal((await auditCount(id, "identity.attest")).count, 1, "no re-attestation was needed");
    const renewedAt = Date.now();

    // Now the X.509-SVID has expired too: a PSAT node attests again with the (fresh) projected token.
    await atLeastSince(renewedAt, 3000);
    clock.justAfter(renewed.notAfter);
    assert.equal(m.credentialsFor(id), undefined, "the expired node identity is withdrawn");
    await writeFile(tokenPath, await psat("worker-1"));
    await m.renewNode();
    const reattested = m.credentialsFor(id);
    assert.ok(reattested, `re-attested: ${logs.slice(-3).join(" | ")}`);
    assert.notEqual(reattested.serial, renewed.serial);
    // (Its new 5-minute JWT-SVID is not checked: the control plane's real clock is an hour behind the node's here.)
    assert.equal((await auditCount(id, "identity.attest")).count, 2);
  });
});

describe("ControlApi: a refused or missing JWT-SVID makes it reauthenticate once, then send the call again", () => {
  test("401 for the bearer: reauthenticate (once for concurrent calls), retry with the fresh JWT-SVID; no help: the 401 is reported", async () => {
    const node = await attestNode(worker, ca.adminToken, "c1", "reauth");
    let token: string | undefined = "refused.by.control";
    let reauths = 0;
    const api = new ControlApi({ baseUrl: worker.url, bearer: () => token });
    api.setReauthenticator(async () => {
      reauths += 1;
      token = node.jwt;
    });
    // Concurrent long-poll and report, both refused at first: one reauthentication, then both go through.
    const heads = await Promise.all([api.snapshotHead("c1", "reauth", {}), api.snapshotHead("c1", "reauth", {})]);
    for (const head of heads) assert.ok(typeof head === "object" && head !== null && head.version >= 1, `the node's signed head after the retry: ${JSON.stringify(head)}`);
    assert.equal(reauths, 1);

    // A missing bearer (expired on the node's clock) also reauthenticates before sending.
    token = undefined;
    assert.equal(typeof (await api.snapshotHead("c1", "reauth", {})), "object");
    assert.equal(reauths, 2);

    // A reauthentication that brings nothing new: the original 401 is what the caller sees.
    token = "refused.again.x";
    api.setReauthenticator(async () => {
      reauths += 1;
    });
    await assert.rejects(api.snapshotHead("c1", "reauth", {}), (err: unknown) => err instanceof ControlApiError && err.status === 401 && /Authorization/.test(err.message));
    assert.equal(reauths, 3);
  });
});
