import { SignJWT } from "jose";

/**
 * A Kubernetes projected service-account token as the API server issues it to a node proxy's pod
 * (ES256, `kubernetes.io` claims with the pod and its node), signed with the test's API-server key.
 */
export function projectedToken(
  key: CryptoKey,
  o: { issuer: string; node: string; pod?: string; serviceAccount?: string; namespace?: string; audience?: string; ttlSeconds?: number },
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const namespace = o.namespace ?? "strait-system";
  const sa = o.serviceAccount ?? "strait-node-proxy";
  const pod = o.pod ?? "proxy-x";
  return new SignJWT({
    "kubernetes.io": { namespace, serviceaccount: { name: sa, uid: "sa-uid" }, pod: { name: pod, uid: o.pod === undefined ? "pod-uid" : `${pod}-uid` }, node: { name: o.node, uid: "node-uid" } },
  })
    .setProtectedHeader({ alg: "ES256", kid: "k1" })
    .setIssuer(o.issuer)
    .setAudience(o.audience ?? "strait")
    .setSubject(`system:serviceaccount:${namespace}:${sa}`)
    .setIssuedAt(now)
    .setExpirationTime(now + (o.ttlSeconds ?? 600))
    .sign(key);
}
