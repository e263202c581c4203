import { misconfigured } from "../../core/env-vars.ts";
import { DEFAULT_TRUST_DOMAIN, parseTrustDomain } from "../../identity/spiffe-id.ts";
import { parseK8sClusters, type K8sClusterConfig } from "../../identity/k8s-psat.ts";
import type { ControlEnv } from "../env.ts";

/** Audience of JWT-SVIDs (and API tokens) presented to the control API. */
export const CONTROL_AUDIENCE = "strait-control";
export const DEFAULT_X509_SVID_TTL_SECONDS = 3600;
export const MAX_X509_SVID_TTL_SECONDS = 86400;
export const DEFAULT_JWT_SVID_TTL_SECONDS = 300;
export const MAX_JWT_SVID_TTL_SECONDS = 3600;

/** The validated trust domain (TRUST_DOMAIN, default strait.local). */
export function trustDomainOf(env: ControlEnv): string {
  const raw = env.TRUST_DOMAIN === undefined || env.TRUST_DOMAIN === "" ? DEFAULT_TRUST_DOMAIN : env.TRUST_DOMAIN;
  try {
    return parseTrustDomain(raw);
  } catch (err) {
    throw misconfigured("TRUST_DOMAIN", err instanceof Error ? err.message : String(err));
  }
}

function ttlSetting(env: ControlEnv, name: "X509_SVID_TTL_SECONDS" | "JWT_SVID_TTL_SECONDS", fallback: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) throw misconfigured(name, `must be an integer from 1 to ${max}, got ${JSON.stringify(raw)}`);
  return n;
}

/** Lifetime of issued X.509-SVIDs (X509_SVID_TTL_SECONDS, default 3600, max 86400). */
export function x509SvidTtlSeconds(env: ControlEnv): number {
  return ttlSetting(env, "X509_SVID_TTL_SECONDS", DEFAULT_X509_SVID_TTL_SECONDS, MAX_X509_SVID_TTL_SECONDS);
}

/** Lifetime of issued JWT-SVIDs (JWT_SVID_TTL_SECONDS, default 300, max 3600). */
export function jwtSvidTtlSeconds(env: ControlEnv): number {
  return ttlSetting(env, "JWT_SVID_TTL_SECONDS", DEFAULT_JWT_SVID_TTL_SECONDS, MAX_JWT_SVID_TTL_SECONDS);
}

/** Longest lifetime of any SVID the issuer signs; a retired CA stays published at least this long. */
export function maxSvidTtlSeconds(env: ControlEnv): number {
  return Math.max(x509SvidTtlSeconds(env), jwtSvidTtlSeconds(env));
}

/** Kubernetes clusters whose projected service-account tokens may attest nodes (K8S_CLUSTERS). */
export function k8sClustersOf(env: ControlEnv): Record<string, K8sClusterConfig> {
  try {
    return parseK8sClusters(env.K8S_CLUSTERS === undefined || env.K8S_CLUSTERS === "" ? "{}" : env.K8S_CLUSTERS);
  } catch (err) {
    throw misconfigured("K8S_CLUSTERS", err instanceof Error ? err.message : String(err));
  }
}
