// The proxy attests with a Kubernetes projected service-account token read from a file, against the
// real control worker configured with the cluster's JWKS (tokens signed as an API server would).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportJWK, generateKeyPair, type CryptoKey as JoseKey } from "jose";
import { startControlWorker, type StartedWorker } from "../support/control-worker.ts";
import { createThrowawayCa, type ThrowawayCa } from "../support/throwaway-ca.ts";
import { systemClock } from "../../src/core/clock.ts";
import { ControlApi } from "../../src/node-proxy/identity/control-api.ts";
import { SvidManager } from "../../src/node-proxy/identity/svid-manager.ts";
import { StateStore } from "../../src/node-proxy/config/state-store.ts";
import { ControlApiError, NodeIdentityError } from "../../src/node-proxy/identity/errors.ts";
import type { ProxyLogger } from "../../src/node-proxy/context.ts";
import { projectedToken } from "../support/k8s-projected-token.ts";

const ISSUER = "https://kubernetes.default.svc.cluster.local";
let ca: ThrowawayCa;
let worker: StartedWorker;
let apiServerKey: JoseKey;
let dir: string;
const managers: SvidManager[] = [];
const logger: ProxyLogger = { info() {}, warn() {}, error() {} };

function psat(o: { node: string; sa?: string }): Promise<string> {
  return projectedToken(apiServerKey, { issuer: ISSUER, node: o.node, ...(o.sa === undefined ? {} : { serviceAccount: o.sa }) });
}

async function start(tokenPath: string, node: string, stateDir: string): Promise<SvidManager> {
  let m: SvidManager | undefined;
  m = await SvidManager.start({
    api: new ControlApi({ baseUrl: worker.url, bearer: () => m?.bearer() }),
    settings: { attestation: { kind: "k8s-psat", tokenPath, cluster: "prod" }, cluster: "prod", node },
    clock: systemClock,
    store: new StateStore(stateDir),
    logger,
  });
  managers.push(m);
  return m;
}

before(async () => {
  ca = await createThrowawayCa();
  const pair = await generateKeyPair("ES256");
  apiServerKey = pair.privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
  const clusters = { prod: { issuer: ISSUER, audience: "strait", jwks: { keys: [jwk] }, allowedServiceAccounts: ["strait-system:strait-node-proxy"] } };
  worker = await startControlWorker({ vars: { ...ca.vars, K8S_CLUSTERS: JSON.stringify(clusters) } });
  dir = await mkdtemp(join(tmpdir(), "strait-proxy-psat-"));
});

after(async () => {
  for (const m of managers) m.close();
  await worker?.dispose();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe("k8s PSAT attestation from the proxy", () => {
  test("the projected token file attests the node: spiffe://<td>/node/prod/<node from the token>", async () => {
    const tokenPath = join(dir, "token");
    await writeFile(tokenPath, `${await psat({ node: "worker-1" })}\n`);
    const m = await start(tokenPath, "worker-1", join(dir, "state-1"));
    assert.equal(m.nodeSpiffeId(), `spiffe://${ca.trustDomain}/node/prod/worker-1`);
    assert.ok(m.bearer());
  });

  test("a service account off the allow-list is refused by the control plane (permanent error)", async () => {
    const tokenPath = join(dir, "token-bad");
    await writeFile(tokenPath, await psat({ node: "worker-2", sa: "default" }));
    await assert.rejects(start(tokenPath, "worker-2", join(dir, "state-2")), (err: unknown) => err instanceof ControlApiError && err.permanent && /k8s\.token/.test(err.message));
  });

  test("a missing token file is a NodeIdentityError naming the path", async () => {
    await assert.rejects(start(join(dir, "absent"), "worker-3", join(dir, "state-3")), (err: unknown) => err instanceof NodeIdentityError && err.message.includes("absent"));
  });
});
