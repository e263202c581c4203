/**
 * Node attestation with Kubernetes projected service-account tokens (PSAT),
 * verified offline against each cluster's configured JWKS (the cluster's
 * `/openid/v1/jwks`), the way Istio validates tokens for an out-of-cluster istiod.
 *
 * Offline verification cannot see pod deletion, so the token's own claims are
 * trusted for the pod and node: the short `exp` and the audience binding bound replay.
 */
import { createLocalJWKSet, errors as joseErrors, jwtVerify } from "jose";
import type { JSONWebKeySet, JWTPayload } from "jose";
import type { Clock } from "../core/clock.ts";
import { AttestationError } from "./errors.ts";
import { DEFAULT_TRUST_DOMAIN, nodeId } from "./spiffe-id.ts";

/** One cluster's entry in the `K8S_CLUSTERS` JSON map. */
export interface K8sClusterConfig {
  /** `iss` of the cluster's service-account tokens, e.g. `https://kubernetes.default.svc.cluster.local`. */
  issuer: string;
  /** Audience the node proxy's projected token is requested for, e.g. `strait`. */
  audience: string;
  /** The cluster's service-account signing keys (its `/openid/v1/jwks`). */
  jwks: { keys: JsonWebKey[] };
  /** `"<namespace>:<serviceaccount>"` pairs allowed to attest; an empty list authorises nothing. */
  allowedServiceAccounts: string[];
}

/** What a verified token says about the attesting node. */
export interface PsatIdentity {
  cluster: string;
  namespace: string;
  serviceAccount: string;
  podName: string;
  podUid: string;
  nodeName: string;
}

/** Only the algorithms Kubernetes API servers sign service-account tokens with. */
export const PSAT_ALGORITHMS = ["RS256", "ES256"] as const;
/** Clock skew tolerated between the API server and the control plane. */
export const PSAT_LEEWAY_SECONDS = 30;
const MAX_TOKEN_BYTES = 16 * 1024;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function nonEmptyString(v: unknown): v is string {
  return typeof v === "string" && v.length > 0;
}

function clusterNameProblem(cluster: string): string | undefined {
  try {
    // The cluster name becomes a path segment of the node's SPIFFE ID.
    nodeId(DEFAULT_TRUST_DOMAIN, cluster, "node");
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/**
 * Parses and validates the `K8S_CLUSTERS` operator setting.
 * @throws TypeError naming the cluster and field when the configuration is wrong.
 * @example parseK8sClusters('{"prod": {"issuer": "https://k8s.example", "audience": "strait", "jwks": {"keys": [...]}, "allowedServiceAccounts": ["strait-system:strait-node-proxy"]}}')
 */
export function parseK8sClusters(json: string): Record<string, K8sClusterConfig> {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch {
    throw new TypeError("K8S_CLUSTERS is not valid JSON");
  }
  if (!isObject(doc)) throw new TypeError("K8S_CLUSTERS must be a JSON object keyed by cluster name");
  const out: Record<string, K8sClusterConfig> = {};
  for (const [cluster, raw] of Object.entries(doc)) {
    const where = `K8S_CLUSTERS[${JSON.stringify(cluster)}]`;
    const nameProblem = clusterNameProblem(cluster);
    if (nameProblem !== undefined) throw new TypeError(`${where}: cluster name is not usable in a SPIFFE ID (${nameProblem})`);
    if (!isObject(raw)) throw new TypeError(`${where} must be an object`);
    if (!nonEmptyString(raw.issuer)) throw new TypeError(`${where}.issuer must be a non-empty string`);
    if (!nonEmptyString(raw.audience)) throw new TypeError(`${where}.audience must be a non-empty string`);
    const jwks = raw.jwks;
    if (!isObject(jwks) || !Array.isArray(jwks.keys) || !jwks.keys.every(isObject)) {
      throw new TypeError(`${where}.jwks must be a JWK Set ({"keys": [...]})`);
    }
    try {
      createLocalJWKSet(jwks as unknown as JSONWebKeySet);
    } catch (cause) {
      throw new TypeError(`${where}.jwks is not a valid JWK Set`, { cause });
    }
    const allowed = raw.allowedServiceAccounts;
    if (!Array.isArray(allowed)) throw new TypeError(`${where}.allowedServiceAccounts must be an array of "namespace:serviceaccount"`);
    allowed.forEach((entry: unknown, i) => {
      const parts = typeof entry === "string" ? entry.split(":") : [];
      if (parts.length !== 2 || parts.some((s) => s.length === 0)) {
        throw new TypeError(`${where}.allowedServiceAccounts[${i}] must be "namespace:serviceaccount"`);
      }
    });
    out[cluster] = {
      issuer: raw.issuer,
      audience: raw.audience,
      jwks: { keys: jwks.keys as JsonWebKey[] },
      allowedServiceAccounts: [...(allowed as string[])],
    };
  }
  return out;
}

function fail(message: string, cause?: unknown): never {
  throw new AttestationError(message, cause === undefined ? undefined : { cause });
}

function describeFailure(cause: unknown, cluster: string, config: K8sClusterConfig): string {
  const where = `K8S_CLUSTERS[${JSON.stringify(cluster)}]`;
  if (cause instanceof joseErrors.JWTExpired) {
    return "Kubernetes token has expired: check that the node proxy re-reads its projected token file and that clocks are in sync";
  }
  if (cause instanceof joseErrors.JWTClaimValidationFailed) {
    if (cause.claim === "iss") return `Kubernetes token issuer does not match ${where}.issuer`;
    if (cause.claim === "aud") {
      return `Kubernetes token audience does not include ${JSON.stringify(config.audience)}: check the projected volume's audience`;
    }
    if (cause.claim === "exp") return "Kubernetes token has no valid exp claim: use a projected (bound) service-account token";
    if (cause.claim === "nbf") return "Kubernetes token is not yet valid (nbf): check clock sync with the API server";
    return `Kubernetes token claim ${cause.claim} is invalid`;
  }
  if (cause instanceof joseErrors.JOSEAlgNotAllowed) return `Kubernetes token alg is not ${PSAT_ALGORITHMS.join(" or ")}`;
  if (cause instanceof joseErrors.JWKSNoMatchingKey || cause instanceof joseErrors.JWSSignatureVerificationFailed) {
    return `Kubernetes token signature does not verify against ${where}.jwks: check it matches the cluster's /openid/v1/jwks`;
  }
  if (cause instanceof joseErrors.JWKSMultipleMatchingKeys) {
    return `Kubernetes token kid matches several keys in ${where}.jwks: give each key a distinct kid`;
  }
  return "Kubernetes token is not a valid signed JWT: send the projected service-account token file's contents";
}

function str(obj: Record<string, unknown>, key: string, claim: string): string {
  const v = obj[key];
  if (!nonEmptyString(v)) fail(`Kubernetes token claim ${claim} is missing: use a projected service-account token bound to a pod`);
  return v;
}

function sub(obj: unknown, key: string, claim: string): Record<string, unknown> {
  const v = isObject(obj) ? obj[key] : undefined;
  if (!isObject(v)) fail(`Kubernetes token claim ${claim} is missing: use a projected service-account token bound to a pod`);
  return v;
}

/**
 * Verifies a projected service-account token for `cluster` offline: signature
 * against the cluster's JWKS (RS256/ES256 only), `iss`, `aud` and a required `exp`,
 * then the `kubernetes.io` claims and the `ns:sa` allow-list.
 * @throws AttestationError saying what to check; the message never contains the token.
 */
export async function verifyProjectedServiceAccountToken(
  token: string,
  cluster: string,
  clusters: Record<string, K8sClusterConfig>,
  clock: Clock,
): Promise<PsatIdentity> {
  if (typeof cluster !== "string" || cluster === "") fail("cluster is missing: send the name configured in K8S_CLUSTERS");
  const config = Object.hasOwn(clusters, cluster) ? clusters[cluster] : undefined;
  if (config === undefined) fail(`cluster ${JSON.stringify(cluster)} is not configured in K8S_CLUSTERS`);
  if (typeof token !== "string" || token === "") fail("Kubernetes token is missing");
  if (token.length > MAX_TOKEN_BYTES) fail(`Kubernetes token is longer than ${MAX_TOKEN_BYTES} bytes`);

  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, createLocalJWKSet(config.jwks as unknown as JSONWebKeySet), {
      algorithms: [...PSAT_ALGORITHMS],
      issuer: config.issuer,
      audience: config.audience,
      requiredClaims: ["exp"],
      clockTolerance: PSAT_LEEWAY_SECONDS,
      currentDate: new Date(clock.now()),
    }));
  } catch (cause) {
    return fail(describeFailure(cause, cluster, config), cause);
  }

  const k8s = sub(payload, "kubernetes.io", "kubernetes.io");
  const namespace = str(k8s, "namespace", "kubernetes.io.namespace");
  const serviceAccount = str(sub(k8s, "serviceaccount", "kubernetes.io.serviceaccount"), "name", "kubernetes.io.serviceaccount.name");
  const pod = sub(k8s, "pod", "kubernetes.io.pod");
  const podName = str(pod, "name", "kubernetes.io.pod.name");
  const podUid = str(pod, "uid", "kubernetes.io.pod.uid");
  const nodeName = str(
    sub(k8s, "node", "kubernetes.io.node (Kubernetes >= 1.30 adds it to bound tokens)"),
    "name",
    "kubernetes.io.node.name",
  );
  // Every service-account token the API server issues names its account in `sub`; one without it is not one.
  if (payload.sub === undefined) fail("Kubernetes token claim sub is missing: use a projected service-account token");
  if (payload.sub !== `system:serviceaccount:${namespace}:${serviceAccount}`) {
    fail("Kubernetes token sub does not match its kubernetes.io namespace and service account");
  }
  const account = `${namespace}:${serviceAccount}`;
  if (!config.allowedServiceAccounts.includes(account)) {
    fail(`service account ${account} is not in K8S_CLUSTERS[${JSON.stringify(cluster)}].allowedServiceAccounts`);
  }
  try {
    nodeId(DEFAULT_TRUST_DOMAIN, cluster, nodeName);
  } catch (cause) {
    return fail("Kubernetes token kubernetes.io.node.name is not a valid node name", cause);
  }
  return { cluster, namespace, serviceAccount, podName, podUid, nodeName };
}
