// Kubernetes projected service-account token (PSAT) attestation in workerd, with a
// cluster JWKS configured in K8S_CLUSTERS and tokens signed like an API server would.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey as JoseKey } from "jose";
import { startControlWorker, type StartedWorker } from "../support/control-worker.ts";
import { createThrowawayCa, opensslCsr, opensslVerify, type ThrowawayCa } from "../support/throwaway-ca.ts";
import { callApi } from "../support/control-client.ts";

const ISSUER = "https://kubernetes.default.svc.cluster.local";
let ca: ThrowawayCa;
let worker: StartedWorker;
let apiServerKey: JoseKey;
let strangerKey: JoseKey;

async function psat(o: { node?: string; sa?: string; ns?: string; aud?: string; expiresIn?: number; key?: JoseKey } = {}): Promise<string> {
  const ns = o.ns ?? "strait-system";
  const sa = o.sa ?? "strait-node-proxy";
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    "kubernetes.io": {
      namespace: ns,
      serviceaccount: { name: sa, uid: "sa-uid" },
      pod: { name: "strait-node-proxy-x1", uid: "pod-uid-1" },
      node: { name: o.node ?? "worker-1", uid: "node-uid-1" },
    },
  })
    .setProtectedHeader({ alg: "ES256", kid: "k1" })
    .setIssuer(ISSUER)
    .setAudience(o.aud ?? "strait")
    .setSubject(`system:serviceaccount:${ns}:${sa}`)
    .setIssuedAt(now)
    .setExpirationTime(now + (o.expiresIn ?? 600))
    .sign(o.key ?? apiServerKey);
}

const attest = (json: unknown) => callApi<any>(worker, "/v1/identity/attest", { json });

before(async () => {
  ca = await createThrowawayCa();
  const pair = await generateKeyPair("ES256");
  apiServerKey = pair.privateKey;
  strangerKey = (await generateKeyPair("ES256")).privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "ES256", use: "sig" };
  const clusters = { prod: { issuer: ISSUER, audience: "strait", jwks: { keys: [jwk] }, allowedServiceAccounts: ["strait-system:strait-node-proxy"] } };
  worker = await startControlWorker({ vars: { ...ca.vars, K8S_CLUSTERS: JSON.stringify(clusters) } });
});

after(async () => {
  await worker?.dispose();
});

describe("k8s_psat attestation", () => {
  test("a valid token attests the pod's node: spiffe://<td>/node/<cluster>/<node>, SVID verified by openssl", async () => {
    const r = await attest({ csr: await opensslCsr(), k8s: { cluster: "prod", token: await psat() } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.spiffeId, `spiffe://${ca.trustDomain}/node/prod/worker-1`);
    assert.match(await opensslVerify(ca.root.certificatePem, ca.intermediate.certificatePem, r.body.x509Svid.certificatePem), /OK$/);
    const nodes = await worker.fetch("/v1/identity/nodes", { headers: { authorization: `Bearer ${ca.adminToken}` } }).then((x) => x.json() as Promise<{ nodes: { spiffeId: string; attestationType: string }[] }>);
    assert.equal(nodes.nodes.find((n) => n.spiffeId === r.body.spiffeId)?.attestationType, "k8s_psat");
  });

  test("PSAT is not one-time (as SPIRE): the same token re-attests", async () => {
    const token = await psat({ node: "worker-2" });
    assert.equal((await attest({ csr: await opensslCsr(), k8s: { cluster: "prod", token } })).status, 200);
    assert.equal((await attest({ csr: await opensslCsr(), k8s: { cluster: "prod", token } })).status, 200);
  });

  const refusals: [string, () => Promise<unknown>][] = [
    ["a service account not on the allow-list", async () => ({ cluster: "prod", token: await psat({ sa: "default" }) })],
    ["the wrong audience", async () => ({ cluster: "prod", token: await psat({ aud: "kubernetes" }) })],
    ["an expired token", async () => ({ cluster: "prod", token: await psat({ expiresIn: -120 }) })],
    ["a token signed by another key", async () => ({ cluster: "prod", token: await psat({ key: strangerKey }) })],
    ["an unconfigured cluster", async () => ({ cluster: "staging", token: await psat() })],
  ];
  for (const [name, k8s] of refusals) {
    test(`refused with 401: ${name}`, async () => {
      const r = await attest({ csr: await opensslCsr(), k8s: await k8s() });
      assert.equal(r.status, 401, JSON.stringify(r.body));
      assert.equal(r.body.error.code, "ERR_ATTESTATION_FAILED");
    });
  }

  test("bad input names the field: k8s.token missing, CSR for another identity", async () => {
    const missing = await attest({ csr: await opensslCsr(), k8s: { cluster: "prod" } });
    assert.equal(missing.status, 400);
    assert.equal(missing.body.error.field, "k8s.token");
    const mismatch = await attest({ csr: await opensslCsr({ uris: [`spiffe://${ca.trustDomain}/node/prod/other`] }), k8s: { cluster: "prod", token: await psat({ node: "worker-3" }) } });
    assert.equal(mismatch.status, 400);
    assert.equal(mismatch.body.error.field, "csr");
    const both = await attest({ csr: await opensslCsr(), joinToken: "x", k8s: { cluster: "prod", token: "y" } });
    assert.equal(both.status, 400);
    const issued = await worker.fetch(`/v1/identity/svids?spiffeId=${encodeURIComponent(`spiffe://${ca.trustDomain}/node/prod/worker-3`)}`, { headers: { authorization: `Bearer ${ca.adminToken}` } });
    assert.deepEqual(await issued.json(), { svids: [] });
  });
});
