/** Builds validated, compiled policies for the policy tests (the validator must accept every spec). */
import assert from "node:assert/strict";
import type { RequestAuthenticationSpec } from "../../../src/core/config/kinds/request-authentication.ts";
import type { PeerAuthenticationSpec } from "../../../src/core/config/kinds/peer-authentication.ts";
import { validateResource } from "../../../src/core/config/validate.ts";
import type { CompiledPolicy } from "../../../src/core/snapshot/snapshot-model.ts";

function validated<S>(kind: "RequestAuthentication" | "PeerAuthentication", namespace: string, name: string, spec: S): void {
  const r = validateResource({ apiVersion: "security.istio.io/v1", kind, metadata: { namespace, name }, spec });
  assert.ok(r.ok, `${kind} ${namespace}/${name} is valid: ${r.ok ? "" : JSON.stringify(r.errors)}`);
}

export function requestAuthn(spec: RequestAuthenticationSpec, o: { name?: string; namespace?: string; appliesTo?: string[] } = {}): CompiledPolicy<RequestAuthenticationSpec> {
  const namespace = o.namespace ?? "foo";
  const name = o.name ?? "jwt";
  validated("RequestAuthentication", namespace, name, spec);
  return { source: { kind: "RequestAuthentication", namespace, name }, scope: "workload", appliesTo: o.appliesTo ?? ["foo/httpbin"], spec };
}

export function peerAuthn(
  spec: PeerAuthenticationSpec,
  o: { name?: string; namespace?: string; scope: "mesh" | "namespace" | "workload"; appliesTo?: string[] },
): CompiledPolicy<PeerAuthenticationSpec> {
  const namespace = o.namespace ?? "foo";
  const name = o.name ?? "default";
  validated("PeerAuthentication", namespace, name, spec);
  return { source: { kind: "PeerAuthentication", namespace, name }, scope: o.scope, appliesTo: o.appliesTo ?? ["foo/httpbin"], spec };
}

export function headers(record: Record<string, string> = {}): Map<string, string> {
  return new Map(Object.entries(record).map(([k, v]) => [k.toLowerCase(), v]));
}
