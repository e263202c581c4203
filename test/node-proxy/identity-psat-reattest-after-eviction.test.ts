// An admin evicts a node (`DELETE /v1/identity/nodes?spiffeId=`, SPIRE's `agent evict`), against the
// real control worker in workerd and the real SvidManager + ControlApi of the node proxy:
// - a Kubernetes (PSAT) node's old credentials are refused; its next renewal is refused too, and it
//   attests again by itself with a fresh projected token (SPIRE's CanReattest): new SVID, new
//   JWT-SVID, node calls (snapshot, workload SVIDs) work again. Evicted a second time, a refused
//   node call alone (the long-poll's 401) makes it attest again and the call goes through.
// - a join-token node cannot attest again (its token was single use): its renewal fails with an
//   operator error that says what to do, it keeps one retry timer with capped backoff (no loop),
//   and a refused node call costs exactly one renewal attempt. Restarted with a NEW join token and its
//   state directory kept, it restores its identity, and at the first refused call attests with that
//   token (once; not counted as spent while the control plane is unreachable); restarted with the
//   spent token, it tries it once and reports the operator error.
// Timers never fire by themselves (a recording scheduler): each renewal happens when the test asks
// (`renewNode()`, what the renewal timer calls) or when a node call is refused. The clock is the
// system clock, as the control worker's; the throwaway CA is built with that same clock.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { exportJWK, generateKeyPair, type CryptoKey as JoseKey } from "jose";
import { startControlWorker, type StartedWorker } from "../support/control-worker.ts";
import { createThrowawayCa, type ThrowawayCa } from "../support/throwaway-ca.ts";
import { bearer, callApi, mintJoinToken } from "../support/control-client.ts";
import { systemClock } from "../../src/core/clock.ts";
import { ControlApi } from "../../src/node-proxy/identity/control-api.ts";
import { ControlApiError } from "../../src/node-proxy/identity/errors.ts";
import { SvidManager } from "../../src/node-proxy/identity/svid-manager.ts";
import type { Scheduler } from "../../src/node-proxy/identity/renewal-schedule.ts";
import { StateStore } from "../../src/node-proxy/config/state-store.ts";
import type { AttestationSettings, ProxyLogger } from "../../src/node-proxy/context.ts";
import { projectedToken } from "../support/k8s-projected-token.ts";

const ISSUER = "https://kubernetes.default.svc.cluster.local";
const CLUSTER = "prod";
const BACKOFF = { baseMs: 1000, capMs: 4000 };
let ca: ThrowawayCa;
let worker: StartedWorker;
let apiServerKey: JoseKey;
let dir: string;
/** A port on 127.0.0.1 nothing listens on (taken from the OS, then closed). */
let closedPort: number;
const managers: SvidManager[] = [];

const CONFIG = `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-1, namespace: shop, labels: {strait.io/cluster: prod, strait.io/node: worker-1}}
spec: {address: 10.0.0.1, serviceAccount: reviews, labels: {app: reviews}}
`;

const reviews = () => `spiffe://${ca.trustDomain}/ns/shop/sa/reviews`;

/** Timers that never fire by themselves; the test sees each one and may run the live ones. */
class RecordingScheduler implements Scheduler {
  readonly timers: { fn: () => void; delayMs: number; cancelled: boolean }[] = [];
  schedule(fn: () => void, delayMs: number): { cancel(): void } {
    const t = { fn, delayMs, cancelled: false };
    this.timers.push(t);
    return { cancel: () => void (t.cancelled = true) };
  }
  live(): { fn: () => void; delayMs: number; cancelled: boolean }[] {
    return this.timers.filter((t) => !t.cancelled);
  }
}

/** One node proxy's identity side: the manager, its ControlApi, what it logged and every control API call it made. */
interface Proxy {
  m: SvidManager;
  api: ControlApi;
  logs: string[];
  calls: string[];
  scheduler: RecordingScheduler;
  /** While set, requests to this path go to a closed port on 127.0.0.1 (connection refused), as in a partition. */
  unreachable: { path?: string };
}

async function startProxy(attestation: AttestationSettings, node: string): Promise<Proxy> {
  const logs: string[] = [];
  const calls: string[] = [];
  const log = (level: string) => (message: string, fields?: Record<string, unknown>) => void logs.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);
  const logger: ProxyLogger = { info: log("info"), warn: log("warn"), error: log("error") };
  // The real fetch; each call's method, path and status are noted.
  const unreachable: { path?: string } = {};
  const observed: typeof fetch = async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    const method = init?.method ?? "GET";
    if (url.pathname === unreachable.path) {
      const closed = new URL(url);
      closed.port = String(closedPort);
      try {
        return await fetch(closed, init);
      } finally {
        calls.push(`${method} ${url.pathname} unreachable`);
      }
    }
    const res = await fetch(url, init);
    calls.push(`${method} ${url.pathname} ${res.status}`);
    return res;
  };
  let m: SvidManager | undefined;
  const api = new ControlApi({ baseUrl: worker.url, bearer: () => m?.bearer(), fetch: observed });
  const scheduler = new RecordingScheduler();
  m = await SvidManager.start({ api, settings: { attestation, cluster: CLUSTER, node }, clock: systemClock, store: new StateStore(join(dir, `state-${node}`)), logger, scheduler, backoff: BACKOFF });
  managers.push(m);
  return { m, api, logs, calls, scheduler, unreachable };
}

function psat(node: string, pod: string): Promise<string> {
  return projectedToken(apiServerKey, { issuer: ISSUER, node, pod });
}

interface AuditEvent {
  outcome: string;
  detail: { podName?: string; type?: string; serial?: string };
}

async function audit(spiffeId: string, action: string): Promise<AuditEvent[]> {
  const r = await callApi<{ events: AuditEvent[] }>(worker, `/v1/audit?target=${encodeURIComponent(spiffeId)}&action=${action}`, { token: ca.adminToken });
  assert.equal(r.status, 200, r.text);
  return r.body.events;
}

async function evict(spiffeId: string): Promise<void> {
  const r = await callApi<{ evicted: string }>(worker, `/v1/identity/nodes?spiffeId=${encodeURIComponent(spiffeId)}`, { method: "DELETE", token: ca.adminToken });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.evicted, spiffeId);
}

async function attestedNodes(): Promise<string[]> {
  const r = await callApi<{ nodes: { spiffeId: string }[] }>(worker, "/v1/identity/nodes", { token: ca.adminToken });
  assert.equal(r.status, 200, r.text);
  return r.body.nodes.map((n) => n.spiffeId);
}

before(async () => {
  ca = await createThrowawayCa();
  const pair = await generateKeyPair("ES256");
  apiServerKey = pair.privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
  const clusters = { [CLUSTER]: { issuer: ISSUER, audience: "strait", jwks: { keys: [jwk] }, allowedServiceAccounts: ["strait-system:strait-node-proxy"] } };
  worker = await startControlWorker({ vars: { ...ca.vars, K8S_CLUSTERS: JSON.stringify(clusters), SNAPSHOT_LONGPOLL_MAX_SECONDS: "5" } });
  dir = await mkdtemp(join(tmpdir(), "strait-proxy-evict-"));
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
  closedPort = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  // The node's WorkloadEntry: a workload identity registered to it, and a node snapshot (published before the answer).
  const r = await worker.fetch("/v1/apply?wait=30", { method: "POST", headers: bearer(ca.adminToken, "application/yaml"), body: CONFIG });
  assert.equal(r.status, 200, await r.text());
});

after(async () => {
  for (const m of managers) m.close();
  await worker?.dispose();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe("PSAT node evicted by an admin: it attests again by itself", () => {
  let psatProxy: Proxy;
  let psatTokenPath: string;

  test("attested with a PSAT; evicted: old credentials refused; its next renewal is refused and it attests again with the fresh projected token; node calls work again", async () => {
    const tokenPath = (psatTokenPath = join(dir, "token"));
    await writeFile(tokenPath, await psat("worker-1", "proxy-a"));
    const p = (psatProxy = await startProxy({ kind: "k8s-psat", tokenPath, cluster: CLUSTER }, "worker-1"));
    const { m, api } = p;

    // 1. Attested with the projected token: node SVID, JWT-SVID, workload SVID, node snapshot.
    const id = m.nodeSpiffeId();
    assert.equal(id, `spiffe://${ca.trustDomain}/node/${CLUSTER}/worker-1`);
    const first = m.credentialsFor(id);
    assert.ok(first);
    const firstJwt = m.bearer();
    assert.ok(firstJwt);
    await m.setWorkloads([reviews()]);
    const firstWorkload = m.credentialsFor(reviews());
    assert.ok(firstWorkload, `workload SVID: ${p.logs.slice(-3).join(" | ")}`);
    const head = await api.snapshotHead(CLUSTER, "worker-1", {});
    assert.ok(head !== null && head !== "not-modified" && head.version > 0, `snapshot head: ${JSON.stringify(head)}`);
    assert.deepEqual((await audit(id, "identity.attest")).map((e) => e.detail.podName), ["proxy-a"]);

    // 2. Evicted: the old credentials are refused for node calls (snapshot, workload SVIDs, renewal nonce).
    await evict(id);
    assert.ok(!(await attestedNodes()).includes(id));
    const snapshot = await worker.fetch(`/v1/snapshots/nodes/${CLUSTER}/worker-1`, { headers: bearer(firstJwt) });
    assert.equal(snapshot.status, 401);
    assert.match(await snapshot.text(), /not attested/);
    const svids = await callApi(worker, "/v1/identity/svids", { token: firstJwt, json: { requests: [{ spiffeId: reviews(), csr: "unused" }] } });
    assert.equal(svids.status, 401, svids.text);
    assert.match(svids.text, /not attested/);
    // (A ControlApi with no reauthenticator: the old certificate alone is refused for a renewal nonce.)
    const bare = new ControlApi({ baseUrl: worker.url, bearer: () => undefined });
    await assert.rejects(bare.renewalNonce(first.certChainPem), (err: unknown) => err instanceof ControlApiError && err.status === 401 && err.permanent);

    // 3. The renewal (what the node's renewal timer runs) is refused, and the node attests again with
    //    the projected token kubelet has rotated meanwhile.
    await writeFile(tokenPath, await psat("worker-1", "proxy-b"));
    p.calls.length = 0;
    await m.renewNode();
    const reattested = m.credentialsFor(id);
    assert.ok(reattested, `re-attested: ${p.logs.slice(-3).join(" | ")}`);
    assert.notEqual(reattested.serial, first.serial);
    assert.notEqual(m.bearer(), undefined);
    assert.notEqual(m.bearer(), firstJwt, "a new JWT-SVID");
    assert.deepEqual(p.calls, ["POST /v1/identity/renew/nonce 401", "POST /v1/identity/attest 200"]);
    assert.ok(p.logs.some((l) => l.startsWith("warn node renewal refused; attesting again with the projected service-account token")), p.logs.join("\n"));
    const node = m.status().find((s) => s.spiffeId === id);
    assert.equal(node?.state, "valid", JSON.stringify(node));
    assert.equal(node?.lastError, undefined);
    // The control plane saw a second attestation, with the fresh token (its pod), and no renewal.
    assert.deepEqual((await audit(id, "identity.attest")).map((e) => e.detail.podName).sort(), ["proxy-a", "proxy-b"]);
    assert.deepEqual(await audit(id, "identity.renew"), []);
    assert.ok((await attestedNodes()).includes(id));

    // Node calls work again: the snapshot, a workload SVID, and a plain renewal by proof of possession.
    const back = await api.snapshotHead(CLUSTER, "worker-1", {});
    assert.ok(back !== null && back !== "not-modified" && back.version >= head.version, `snapshot head after re-attestation: ${JSON.stringify(back)}`);
    await m.renewWorkload(reviews());
    const renewedWorkload = m.credentialsFor(reviews());
    assert.ok(renewedWorkload);
    assert.notEqual(renewedWorkload.serial, firstWorkload.serial, `workload SVID renewed: ${p.logs.slice(-3).join(" | ")}`);
    await m.renewNode();
    const renewed = m.credentialsFor(id);
    assert.ok(renewed);
    assert.notEqual(renewed.serial, reattested.serial);
    assert.deepEqual((await audit(id, "identity.renew")).map((e) => e.outcome), ["success"]);
    assert.equal((await audit(id, "identity.attest")).length, 2, "a plain renewal, no attestation");
  });

  test("evicted again: the long-poll refused for the old JWT-SVID makes the node attest again by itself, and the call goes through", async () => {
    const p = psatProxy;
    const { m, api } = p;
    const id = m.nodeSpiffeId();
    const before = m.credentialsFor(id);
    assert.ok(before);
    const jwt = m.bearer();
    assert.ok(jwt);
    await evict(id);
    await writeFile(psatTokenPath, await psat("worker-1", "proxy-c"));
    p.calls.length = 0;
    // A node call as the long-poll makes it: 401 for the JWT-SVID → the ControlApi's reauthenticator
    // renews (refused: evicted) → attests again → the same call is sent once more, with the new JWT-SVID.
    const head = await api.snapshotHead(CLUSTER, "worker-1", {});
    assert.ok(head !== null && head !== "not-modified" && head.version > 0, `snapshot head: ${JSON.stringify(head)}`);
    assert.deepEqual(p.calls, [`GET /v1/snapshots/nodes/${CLUSTER}/worker-1 401`, "POST /v1/identity/renew/nonce 401", "POST /v1/identity/attest 200", `GET /v1/snapshots/nodes/${CLUSTER}/worker-1 200`]);
    const after = m.credentialsFor(id);
    assert.ok(after);
    assert.notEqual(after.serial, before.serial);
    assert.notEqual(m.bearer(), jwt);
    assert.deepEqual((await audit(id, "identity.attest")).map((e) => e.detail.podName).sort(), ["proxy-a", "proxy-b", "proxy-c"]);
    // Workload SVIDs too.
    const workload = m.credentialsFor(reviews());
    assert.ok(workload);
    await m.renewWorkload(reviews());
    assert.notEqual(m.credentialsFor(reviews())?.serial, workload.serial, `workload SVID renewed: ${p.logs.slice(-3).join(" | ")}`);
    assert.ok(m.status().every((s) => s.state === "valid" && s.lastError === undefined), JSON.stringify(m.status()));
  });
});

describe("join-token node evicted by an admin: it cannot attest again, and says so without looping", () => {
  test("its renewal fails with the operator error; one retry timer with capped backoff; a refused node call costs one renewal attempt; it never attests", async () => {
    const token = await mintJoinToken(worker, ca.adminToken, CLUSTER, "jt-1");
    const p = await startProxy({ kind: "join-token", token }, "jt-1");
    const { m, api, scheduler } = p;
    const id = m.nodeSpiffeId();
    const held = m.credentialsFor(id);
    assert.ok(held);
    const jwt = m.bearer();
    assert.ok(jwt);
    // Before the eviction its JWT-SVID acts as the node (its snapshot may not be published yet: 404).
    const read = await worker.fetch(`/v1/snapshots/nodes/${CLUSTER}/jt-1`, { headers: bearer(jwt) });
    assert.ok(read.status === 200 || read.status === 404, `${read.status} ${await read.text()}`);
    await evict(id);
    assert.equal((await worker.fetch(`/v1/snapshots/nodes/${CLUSTER}/jt-1`, { headers: bearer(jwt) })).status, 401);

    // The renewal (what its timer runs): refused; no attestation is tried (the join token was single use).
    p.calls.length = 0;
    p.logs.length = 0;
    await m.renewNode();
    assert.deepEqual(p.calls, ["POST /v1/identity/renew/nonce 401"]);
    const node = m.status().find((s) => s.spiffeId === id);
    assert.equal(node?.state, "renewing", JSON.stringify(node));
    assert.match(node?.lastError ?? "", /join-token node cannot attest again by itself/);
    assert.match(node?.lastError ?? "", /strait join-token create/);
    assert.match(node?.lastError ?? "", /HTTP 401/, "the control plane's answer is kept in the error");
    assert.ok(p.logs.some((l) => l.startsWith("error node identity lost: operator action needed")), p.logs.join("\n"));
    // Its SVID is not revoked by an eviction: the node keeps it until it expires (docs: "revoke for that").
    assert.equal(m.credentialsFor(id)?.serial, held.serial);

    // No loop: exactly one live timer (the node's next try), after the first backoff step; running it
    // tries once more (one request) and backs off further, up to the cap.
    for (const [attempt, [lo, hi]] of [
      [2, [BACKOFF.baseMs, 2 * BACKOFF.baseMs]],
      [3, [2 * BACKOFF.baseMs, BACKOFF.capMs]],
      [4, [BACKOFF.capMs / 2, BACKOFF.capMs]],
      [5, [BACKOFF.capMs / 2, BACKOFF.capMs]],
    ] as const) {
      const live = scheduler.live();
      assert.equal(live.length, 1, `one live timer before attempt ${attempt}: ${JSON.stringify(live)}`);
      const timer = live[0]!;
      timer.cancelled = true;
      p.calls.length = 0;
      timer.fn();
      await m.renewNode(); // joins the attempt the timer started
      assert.deepEqual(p.calls, ["POST /v1/identity/renew/nonce 401"], `attempt ${attempt}`);
      const next = scheduler.live();
      assert.equal(next.length, 1);
      assert.ok(next[0]!.delayMs >= lo - 50 && next[0]!.delayMs <= hi, `attempt ${attempt}: next try in ${next[0]!.delayMs} ms, expected ${lo}-${hi}`);
    }

    // A node call refused for its JWT-SVID (e.g. the long-poll): one renewal attempt, then the 401 is reported.
    p.calls.length = 0;
    await assert.rejects(api.snapshotHead(CLUSTER, "jt-1", {}), (err: unknown) => err instanceof ControlApiError && err.status === 401 && /not attested/.test(err.message));
    assert.deepEqual(p.calls, [`GET /v1/snapshots/nodes/${CLUSTER}/jt-1 401`, "POST /v1/identity/renew/nonce 401"]);
    assert.equal(scheduler.live().length, 1);
    assert.equal((await audit(id, "identity.attest")).length, 1, "attested once, never again");
    assert.ok(!(await attestedNodes()).includes(id));
  });

  test("what the error says works: restarted with a NEW join token (state directory kept), it attests with it at the first refused call", async () => {
    const old = managers.at(-1)!;
    const id = old.nodeSpiffeId();
    const oldSerial = old.credentialsFor(id)?.serial;
    assert.ok(oldSerial);
    old.close();
    const token = await mintJoinToken(worker, ca.adminToken, CLUSTER, "jt-1");
    const p = await startProxy({ kind: "join-token", token }, "jt-1");
    const { m, api } = p;
    // The identity on disk is still valid, so the restart restores it (no call yet)...
    assert.ok(p.logs.some((l) => l.startsWith("info identity restored from the state directory")), p.logs.join("\n"));
    assert.equal(m.credentialsFor(id)?.serial, oldSerial);
    assert.deepEqual(p.calls, []);
    // A renewal while the attest endpoint is unreachable: the token is not counted as spent, the error is the outage.
    p.unreachable.path = "/v1/identity/attest";
    await m.renewNode();
    assert.deepEqual(p.calls, ["POST /v1/identity/renew/nonce 401", "POST /v1/identity/attest unreachable"]);
    assert.match(m.status().find((s) => s.spiffeId === id)?.lastError ?? "", /control plane unreachable/);
    p.unreachable.path = undefined;
    p.calls.length = 0;
    // ...then the first node call, refused, renews (refused: evicted), then attests with the new token.
    const head = await api.snapshotHead(CLUSTER, "jt-1", {});
    assert.notEqual(head, "not-modified");
    assert.deepEqual(p.calls.slice(0, 4), [`GET /v1/snapshots/nodes/${CLUSTER}/jt-1 401`, "POST /v1/identity/renew/nonce 401", "POST /v1/identity/attest 200", `GET /v1/snapshots/nodes/${CLUSTER}/jt-1 ${head === null ? 404 : 200}`]);
    const node = m.credentialsFor(id);
    assert.ok(node);
    assert.notEqual(node.serial, oldSerial);
    assert.ok(m.status().every((s) => s.state === "valid" && s.lastError === undefined), JSON.stringify(m.status()));
    assert.deepEqual((await audit(id, "identity.attest")).map((e) => e.detail.type), ["join_token", "join_token"]);
    assert.ok((await attestedNodes()).includes(id));
    // The token is spent: evicted once more, the node does not try it again (one renewal attempt, the operator error).
    await evict(id);
    p.calls.length = 0;
    await m.renewNode();
    assert.deepEqual(p.calls, ["POST /v1/identity/renew/nonce 401"]);
    assert.match(m.status().find((s) => s.spiffeId === id)?.lastError ?? "", /join-token node cannot attest again by itself/);

    // Restarted with that same, spent token: it tries it once (refused: used), then only renews, each attempt one request.
    m.close();
    const again = await startProxy({ kind: "join-token", token }, "jt-1");
    await again.m.renewNode();
    assert.deepEqual(again.calls, ["POST /v1/identity/renew/nonce 401", "POST /v1/identity/attest 401"]);
    const lastError = again.m.status().find((s) => s.spiffeId === id)?.lastError ?? "";
    assert.match(lastError, /the configured join token was refused too \(attest: HTTP 401: joinToken: join token does not exist or has already been used\)/);
    assert.match(lastError, /create a new join token/);
    again.calls.length = 0;
    await again.m.renewNode();
    assert.deepEqual(again.calls, ["POST /v1/identity/renew/nonce 401"]);
    assert.equal(again.scheduler.live().length, 1);
    assert.equal((await audit(id, "identity.attest")).length, 2);
  });
});
