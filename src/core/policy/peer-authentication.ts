/**
 * PeerAuthentication: the inbound mTLS mode of a workload port, composed as
 * istiod does (pilot `authn/policy_applier.go` ComposePeerAuthentication):
 * the oldest policy of each scope is used (mesh = root namespace without
 * selector, namespace, workload = selector); mesh < namespace < workload;
 * `UNSET` (or no `mtls`) inherits from the wider scope; `portLevelMtls` of the
 * workload policy overrides per workload port (`UNSET` there inherits the
 * workload's mode).
 *
 * With no policy at all Istio is PERMISSIVE; Strait defaults to STRICT
 * (security defaults strict): plaintext must be allowed explicitly.
 */
import type { MtlsMode, PeerAuthenticationSpec } from "../config/kinds/peer-authentication.ts";
import type { CompiledPolicy } from "../snapshot/snapshot-model.ts";

export type EffectiveMtlsMode = "STRICT" | "PERMISSIVE" | "DISABLE";

/** Strait's default when no PeerAuthentication decides (Istio's is PERMISSIVE). */
export const STRAIT_DEFAULT_MTLS_MODE: EffectiveMtlsMode = "STRICT";

export interface PeerAuthenticationOptions {
  /** Mode when no policy sets one; default `STRICT`. */
  defaultMode?: EffectiveMtlsMode;
}

/** The composed policy of one workload: a mode and per-port overrides, with where they came from. */
export interface ComposedPeerAuthentication {
  mode: EffectiveMtlsMode;
  perPort: ReadonlyMap<number, EffectiveMtlsMode>;
  /** `<ns>/<name>` of the policies used per scope. */
  sources: { mesh?: string; namespace?: string; workload?: string };
}

function setMode(mode: MtlsMode | undefined): EffectiveMtlsMode | undefined {
  return mode === "STRICT" || mode === "PERMISSIVE" || mode === "DISABLE" ? mode : undefined;
}

/**
 * Composes the PeerAuthentication of workload `<ns>/<name>` from the
 * policies of a snapshot (ordered oldest first, as the compiler emits them).
 */
export function composePeerAuthentication(
  policies: readonly CompiledPolicy<PeerAuthenticationSpec>[],
  workload: string,
  options?: PeerAuthenticationOptions,
): ComposedPeerAuthentication {
  let mesh: CompiledPolicy<PeerAuthenticationSpec> | undefined;
  let namespace: CompiledPolicy<PeerAuthenticationSpec> | undefined;
  let wl: CompiledPolicy<PeerAuthenticationSpec> | undefined;
  for (const p of policies) {
    if (!p.appliesTo.includes(workload)) continue;
    // First seen = oldest within its scope.
    if (p.scope === "mesh") mesh ??= p;
    else if (p.scope === "namespace") namespace ??= p;
    else wl ??= p;
  }
  let mode = options?.defaultMode ?? STRAIT_DEFAULT_MTLS_MODE;
  for (const p of [mesh, namespace, wl]) {
    const m = setMode(p?.spec.mtls?.mode);
    if (m !== undefined) mode = m;
  }
  const perPort = new Map<number, EffectiveMtlsMode>();
  for (const [port, setting] of Object.entries(wl?.spec.portLevelMtls ?? {})) {
    const n = Number(port);
    if (!Number.isInteger(n) || n < 1 || n > 65535) continue;
    perPort.set(n, setMode(setting?.mode) ?? mode);
  }
  const name = (p: CompiledPolicy<PeerAuthenticationSpec> | undefined) => (p === undefined ? undefined : `${p.source.namespace}/${p.source.name}`);
  const sources: ComposedPeerAuthentication["sources"] = {};
  if (mesh !== undefined) sources.mesh = name(mesh)!;
  if (namespace !== undefined) sources.namespace = name(namespace)!;
  if (wl !== undefined) sources.workload = name(wl)!;
  return { mode, perPort, sources };
}

/**
 * Effective inbound mTLS mode of workload `<ns>/<name>` on workload (container) `port`.
 * @example resolvePeerAuthentication(snapshot.peerAuthentications, "foo/httpbin", 8080) // "STRICT"
 */
export function resolvePeerAuthentication(
  policies: readonly CompiledPolicy<PeerAuthenticationSpec>[],
  workload: string,
  port: number,
  options?: PeerAuthenticationOptions,
): EffectiveMtlsMode {
  const composed = composePeerAuthentication(policies, workload, options);
  return composed.perPort.get(port) ?? composed.mode;
}
