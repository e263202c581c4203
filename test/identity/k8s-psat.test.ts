import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { SignJWT, exportJWK, generateKeyPair } from "jose";
import type { JWTPayload } from "jose";
import { ManualClock } from "../../src/core/clock.ts";
import { AttestationError } from "../../src/identity/errors.ts";
import { parseK8sClusters, verifyProjectedServiceAccountToken, type K8sClusterConfig } from "../../src/identity/k8s-psat.ts";

const T0 = Date.UTC(2026, 5, 1, 12, 0, 0);
const NOW_S = T0 / 1000;
const ISSUER = "https://kubernetes.default.svc.cluster.local";
const CLUSTER = "prod-eu";
const clock = new ManualClock(T0);

let clusterKey: CryptoKeyPair;
let ecClusterKey: CryptoKeyPair;
let clusters: Record<string, K8sClusterConfig>;

/** The claims a real API server puts in a projected token (Kubernetes >= 1.30, with node info). */
function psatClaims(extra: JWTPayload = {}): JWTPayload {
  return {
    iss: ISSUER,
    aud: ["strait"],
    sub: "system:serviceaccount:strait-system:strait-node-proxy",
    iat: NOW_S - 60,
    nbf: NOW_S - 60,
    exp: NOW_S + 540,
    "kubernetes.io": {
      namespace: "strait-system",
      node: { name: "ip-10-0-1-23.eu-west-1.compute.internal", uid: "8c1f7f0e-6b8a-4d8e-9a55-1f0d1c7f4e2a" },
      pod: { name: "strait-node-proxy-x7k2p", uid: "f3b1b0c2-2d4e-4b7a-9c1e-5e9a7d3c2b10" },
      serviceaccount: { name: "strait-node-proxy", uid: "0d9e8f7a-1b2c-4d3e-8f9a-0b1c2d3e4f5a" },
    },
    ...extra,
  };
}

async function sign(payload: JWTPayload, k: CryptoKey = clusterKey.privateKey, header: { alg: string; kid?: string } = { alg: "RS256", kid: "sa-key-1" }): Promise<string> {
  return new SignJWT(payload).setProtectedHeader(header).sign(k);
}

function configJson(overrides: Partial<K8sClusterConfig> = {}, jwksKeys?: JsonWebKey[]): Record<string, unknown> {
  return {
    issuer: ISSUER,
    audience: "strait",
    jwks: { keys: jwksKeys ?? clusters[CLUSTER]?.jwks.keys ?? [] },
    allowedServiceAccounts: ["strait-system:strait-node-proxy"],
    ...overrides,
  };
}

async function refused(token: string, fragment: string, opts: { cluster?: string; clusters?: Record<string, K8sClusterConfig>; at?: number } = {}): Promise<void> {
  await assert.rejects(
    verifyProjectedServiceAccountToken(token, opts.cluster ?? CLUSTER, opts.clusters ?? clusters, new ManualClock(opts.at ?? T0)),
    (err: unknown) => {
      assert.ok(err instanceof AttestationError, `expected AttestationError, got ${String(err)}`);
      assert.equal(err.code, "ERR_ATTESTATION_FAILED");
      assert.ok(err.message.includes(fragment), `${JSON.stringify(err.message)} should include ${JSON.stringify(fragment)}`);
      for (const part of token.split(".")) {
        if (part.length > 8) assert.ok(!err.message.includes(part), "the message never contains the token");
      }
      return true;
    },
  );
}

before(async () => {
  clusterKey = await generateKeyPair("RS256", { extractable: true });
  ecClusterKey = await generateKeyPair("ES256", { extractable: true });
  const rsaJwk = { ...(await exportJWK(clusterKey.publicKey)), kid: "sa-key-1", use: "sig", alg: "RS256" };
  const ecJwk = { ...(await exportJWK(ecClusterKey.publicKey)), kid: "sa-key-ec" };
  clusters = parseK8sClusters(
    JSON.stringify({
      [CLUSTER]: {
        issuer: ISSUER,
        audience: "strait",
        jwks: { keys: [rsaJwk, ecJwk] },
        allowedServiceAccounts: ["strait-system:strait-node-proxy", "other:proxy"],
      },
      empty: { issuer: ISSUER, audience: "strait", jwks: { keys: [rsaJwk] }, allowedServiceAccounts: [] },
    }),
  );
});

describe("parseK8sClusters: operator configuration", () => {
  test("parses the K8S_CLUSTERS map, and {} configures no cluster", () => {
    assert.deepEqual(Object.keys(clusters), [CLUSTER, "empty"]);
    assert.equal(clusters[CLUSTER]?.issuer, ISSUER);
    assert.deepEqual(clusters[CLUSTER]?.allowedServiceAccounts, ["strait-system:strait-node-proxy", "other:proxy"]);
    assert.deepEqual(parseK8sClusters("{}"), {});
  });

  test("bad configuration is a TypeError naming the cluster and field", () => {
    const cases: [string, RegExp][] = [
      ["not json", /not valid JSON/],
      ["[]", /JSON object keyed by cluster name/],
      [JSON.stringify({ c: "x" }), /K8S_CLUSTERS\["c"\] must be an object/],
      [JSON.stringify({ c: configJson({ issuer: "" }) }), /K8S_CLUSTERS\["c"\]\.issuer/],
      [JSON.stringify({ c: configJson({ audience: 5 as unknown as string }) }), /\.audience/],
      [JSON.stringify({ c: { ...configJson(), jwks: { keys: "x" } } }), /\.jwks must be a JWK Set/],
      [JSON.stringify({ c: { ...configJson(), jwks: [] } }), /\.jwks must be a JWK Set/],
      [JSON.stringify({ c: configJson({ allowedServiceAccounts: "ns:sa" as unknown as string[] }) }), /allowedServiceAccounts must be an array/],
      [JSON.stringify({ c: configJson({ allowedServiceAccounts: ["ns-sa"] }) }), /allowedServiceAccounts\[0\] must be "namespace:serviceaccount"/],
      [JSON.stringify({ c: configJson({ allowedServiceAccounts: ["a:b", ":sa"] }) }), /allowedServiceAccounts\[1\]/],
      [JSON.stringify({ "bad/name": configJson() }), /cluster name is not usable in a SPIFFE ID/],
      [JSON.stringify({ "": configJson() }), /cluster name is not usable/],
    ];
    for (const [json, pattern] of cases) assert.throws(() => parseK8sClusters(json), (e: unknown) => e instanceof TypeError && pattern.test(e.message), json);
  });
});

describe("verifyProjectedServiceAccountToken", () => {
  test("a token signed by the cluster key (RS256) yields the pod and node identity", async () => {
    const id = await verifyProjectedServiceAccountToken(await sign(psatClaims()), CLUSTER, clusters, clock);
    assert.deepEqual(id, {
      cluster: CLUSTER,
      namespace: "strait-system",
      serviceAccount: "strait-node-proxy",
      podName: "strait-node-proxy-x7k2p",
      podUid: "f3b1b0c2-2d4e-4b7a-9c1e-5e9a7d3c2b10",
      nodeName: "ip-10-0-1-23.eu-west-1.compute.internal",
    });
  });

  test("ES256 cluster keys are accepted too; a string aud is accepted", async () => {
    const token = await sign(psatClaims({ aud: "strait" }), ecClusterKey.privateKey, { alg: "ES256", kid: "sa-key-ec" });
    assert.equal((await verifyProjectedServiceAccountToken(token, CLUSTER, clusters, clock)).namespace, "strait-system");
  });

  test("an unknown cluster is refused, even if the token is valid elsewhere", async () => {
    const token = await sign(psatClaims());
    await refused(token, 'cluster "staging" is not configured in K8S_CLUSTERS', { cluster: "staging" });
    await refused(token, "cluster is missing", { cluster: "" });
    await refused(token, 'cluster "__proto__" is not configured', { cluster: "__proto__" });
    await refused(token, 'cluster "prod-eu" is not configured', { clusters: {} });
  });

  test("an empty allowedServiceAccounts authorises nothing; a service account off the list is refused", async () => {
    await refused(await sign(psatClaims()), 'service account strait-system:strait-node-proxy is not in K8S_CLUSTERS["empty"].allowedServiceAccounts', { cluster: "empty" });
    const other = psatClaims({ sub: "system:serviceaccount:default:default" });
    (other["kubernetes.io"] as { namespace: string; serviceaccount: { name: string } }).namespace = "default";
    (other["kubernetes.io"] as { serviceaccount: { name: string } }).serviceaccount.name = "default";
    await refused(await sign(other), "service account default:default is not in");
  });

  test("issuer, audience, expiry and signature are checked, with advice on what to check", async () => {
    await refused(await sign(psatClaims({ iss: "https://evil.example" })), 'issuer does not match K8S_CLUSTERS["prod-eu"].issuer');
    await refused(await sign(psatClaims({ aud: ["kubernetes.default.svc"] })), 'audience does not include "strait": check the projected volume');
    await refused(await sign(psatClaims({ aud: undefined })), "audience");
    await refused(await sign(psatClaims()), "has expired", { at: T0 + 541_000 + 30_000 });
    await refused(await sign(psatClaims({ exp: undefined })), "no valid exp claim: use a projected");
    await refused(await sign(psatClaims({ nbf: NOW_S + 600 })), "not yet valid (nbf)");
    const stranger = await generateKeyPair("RS256");
    await refused(await sign(psatClaims(), stranger.privateKey), 'signature does not verify against K8S_CLUSTERS["prod-eu"].jwks');
    await refused(await sign(psatClaims(), stranger.privateKey, { alg: "RS256", kid: "unknown-kid" }), "signature does not verify");
  });

  test("only RS256 and ES256 are accepted", async () => {
    const rs384Key = await generateKeyPair("RS384");
    const rs384 = await sign(psatClaims(), rs384Key.privateKey, { alg: "RS384", kid: "sa-key-1" });
    await refused(rs384, "alg is not RS256 or ES256");
    const secret = crypto.getRandomValues(new Uint8Array(32));
    await refused(await new SignJWT(psatClaims()).setProtectedHeader({ alg: "HS256", kid: "sa-key-1" }).sign(secret), "alg is not RS256 or ES256");
  });

  test("the kubernetes.io claims are required, node name included", async () => {
    const without = (mutate: (k: Record<string, Record<string, unknown>>) => void): JWTPayload => {
      const c = psatClaims();
      mutate(c["kubernetes.io"] as Record<string, Record<string, unknown>>);
      return c;
    };
    await refused(await sign(psatClaims({ "kubernetes.io": undefined })), "claim kubernetes.io is missing");
    await refused(await sign(without((k) => delete k.namespace)), "kubernetes.io.namespace is missing");
    await refused(await sign(without((k) => delete k.serviceaccount)), "kubernetes.io.serviceaccount is missing");
    await refused(await sign(without((k) => delete k.pod?.uid)), "kubernetes.io.pod.uid is missing");
    await refused(await sign(without((k) => delete k.pod?.name)), "kubernetes.io.pod.name is missing");
    await refused(await sign(without((k) => delete k.node)), "kubernetes.io.node (Kubernetes >= 1.30");
    await refused(await sign(without((k) => ((k.node as Record<string, unknown>).name = ""))), "kubernetes.io.node.name is missing");
    await refused(await sign(without((k) => ((k.node as Record<string, unknown>).name = "a/b"))), "node.name is not a valid node name");
  });

  test("a sub that disagrees with the kubernetes.io claims is refused", async () => {
    await refused(await sign(psatClaims({ sub: "system:serviceaccount:kube-system:admin" })), "sub does not match");
  });

  test("issue 6 finding 6: a token without sub is refused (every service-account token has one)", async () => {
    await refused(await sign(psatClaims({ sub: undefined })), "claim sub is missing");
    const noSub = psatClaims();
    delete noSub.sub;
    await refused(await sign(noSub), "claim sub is missing");
  });

  test("garbage is refused without echoing it", async () => {
    await refused("not-a-jwt-at-all-but-long", "not a valid signed JWT");
    await refused("", "token is missing");
    await refused("x".repeat(20_000), "longer than");
  });
});
