/**
 * Spec types shared by several Istio kinds. Field names are the CRDs' JSON
 * (camelCase) names; optional fields are optional exactly as in Istio.
 */

/** Exactly one of `exact`, `prefix`, `regex` (RE2, whole-value match). `{}` means "present". */
export interface StringMatch {
  exact?: string;
  prefix?: string;
  regex?: string;
}

/** A percentage as a double 0..100 (`{value: 50}`). */
export interface Percent {
  value?: number;
}

/** `port: {number: 9080}`. */
export interface PortSelector {
  number?: number;
}

/** Label selector used by policies and DestinationRule (`matchLabels`). */
export interface WorkloadSelector {
  matchLabels?: Record<string, string>;
}

/** `targetRef`/`targetRefs[]` of policies (Gateway API style reference, same namespace). */
export interface PolicyTargetReference {
  group?: string;
  kind: string;
  name: string;
  namespace?: string;
}
