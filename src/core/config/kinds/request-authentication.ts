import type { PolicyTargetReference, WorkloadSelector } from "./common.ts";

/** `security.istio.io` RequestAuthentication spec: which JWTs a workload accepts. */
export interface RequestAuthenticationSpec {
  selector?: WorkloadSelector;
  targetRef?: PolicyTargetReference;
  targetRefs?: PolicyTargetReference[];
  jwtRules?: JWTRule[];
}

export interface JWTRule {
  issuer: string;
  audiences?: string[];
  /** http(s) URL; mutually exclusive with `jwks`. */
  jwksUri?: string;
  /** Inline JWKS JSON. */
  jwks?: string;
  fromHeaders?: { name: string; prefix?: string }[];
  fromParams?: string[];
  fromCookies?: string[];
  outputPayloadToHeader?: string;
  forwardOriginalToken?: boolean;
  outputClaimToHeaders?: { header: string; claim: string }[];
  timeout?: string;
  spaceDelimitedClaims?: string[];
  presence?: "OPTIONAL" | "REQUIRED";
}
