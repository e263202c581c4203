/**
 * AuthorizationPolicy per Gateway. In Istio a policy binds to the gateway *workload* it selects
 * (`selector` labels, or `targetRefs` naming the Gateway), plus the mesh-wide policies of the
 * root namespace; a policy written for one Gateway never touches traffic of another. Strait's
 * edge gateway serves every Gateway of the snapshot, so each request is evaluated against the
 * policies of the Gateway(s) whose server accepted it: the servers on the request's listener
 * port (every HTTP or HTTPS server when no Gateway listens on that port, as the route table
 * does) with a host matching the request's `Host`. The snapshot compiler already resolved which
 * Gateways each policy applies to (`appliesTo`); a host served by several Gateways gets the
 * policies of all of them (one workload serves them here); a host no Gateway serves gets only
 * the mesh-wide policies.
 */
import type { AuthorizationPolicySpec } from "../../core/config/kinds/authorization-policy.ts";
import type { Server } from "../../core/config/kinds/gateway.ts";
import { parseGatewayHost } from "../../core/config/hosts.ts";
import { compileAuthorization, type AuthorizationEngine, type PolicyProblem } from "../../core/policy/index.ts";
import { hostMatchesPattern } from "../../core/routing/index.ts";
import type { CompiledPolicy, GatewaySnapshot } from "../../core/snapshot/snapshot-model.ts";

/** Distinct `Host` values remembered per snapshot before the memo starts over. */
const MEMO_LIMIT = 1024;

interface ServerHosts {
  gateway: string;
  hosts: string[];
}

export class GatewayAuthorization {
  /** Problems of every policy of the snapshot (shown on /healthz, logged). */
  readonly problems: readonly PolicyProblem[];
  private readonly byPort = new Map<number, ServerHosts[]>();
  private readonly byScheme: { http: ServerHosts[]; https: ServerHosts[] } = { http: [], https: [] };
  /** Engines by sorted, comma-joined Gateway keys ("" = no Gateway: mesh-wide policies only). */
  private readonly engines = new Map<string, AuthorizationEngine | undefined>();
  private readonly memo = new Map<string, AuthorizationEngine | undefined>();
  /** When every policy applies to every Gateway, one engine serves all routed traffic. */
  private readonly uniform: boolean;

  constructor(
    snapshot: Pick<GatewaySnapshot, "gateways" | "authorizationPolicies">,
    private readonly policies: readonly CompiledPolicy<AuthorizationPolicySpec>[] = snapshot.authorizationPolicies,
  ) {
    this.problems = policies.length === 0 ? [] : compileAuthorization(policies).problems;
    const keys = snapshot.gateways.map((g) => `${g.namespace}/${g.name}`);
    this.uniform = policies.every((p) => keys.every((k) => p.appliesTo.includes(k)));
    for (const gw of snapshot.gateways) {
      const gateway = `${gw.namespace}/${gw.name}`;
      for (const server of gw.servers) {
        const kind = httpKind(server);
        if (kind === undefined) continue;
        const entry = { gateway, hosts: server.hosts.map((h) => parseGatewayHost(h, gw.namespace).host) };
        let list = this.byPort.get(server.port.number);
        if (list === undefined) this.byPort.set(server.port.number, (list = []));
        list.push(entry);
        this.byScheme[kind].push(entry);
      }
    }
  }

  /**
   * The engine for a request, or undefined when no policy applies to it (allow, nothing to
   * evaluate). `authority` is the request's Host (port ignored for matching).
   */
  engineFor(port: number, scheme: "http" | "https", authority: string): AuthorizationEngine | undefined {
    if (this.policies.length === 0) return undefined;
    const memoKey = `${port}|${scheme}|${authority}`;
    if (this.memo.has(memoKey)) return this.memo.get(memoKey);
    const gateways = this.gatewaysFor(port, scheme, authority);
    const engine = this.engine(gateways.length === 0 ? "" : this.uniform ? "*" : gateways.sort().join(","), gateways);
    if (this.memo.size >= MEMO_LIMIT) this.memo.clear();
    this.memo.set(memoKey, engine);
    return engine;
  }

  /** `<ns>/<name>` of the Gateways whose server accepts this request (deduplicated). */
  gatewaysFor(port: number, scheme: "http" | "https", authority: string): string[] {
    const servers = this.byPort.get(port) ?? this.byScheme[scheme];
    const out: string[] = [];
    for (const s of servers) {
      if (out.includes(s.gateway)) continue;
      if (s.hosts.some((h) => hostMatchesPattern(h, authority))) out.push(s.gateway);
    }
    return out;
  }

  private engine(key: string, gateways: readonly string[]): AuthorizationEngine | undefined {
    if (this.engines.has(key)) return this.engines.get(key);
    const applicable = this.policies.filter((p) => (gateways.length === 0 ? p.scope === "mesh" : p.appliesTo.some((g) => gateways.includes(g))));
    const engine = applicable.length === 0 ? undefined : compileAuthorization(applicable);
    this.engines.set(key, engine);
    return engine;
  }
}

/** HTTP-carrying servers: plain HTTP-family protocols, and HTTPS that terminates TLS. */
function httpKind(s: Server): "http" | "https" | undefined {
  const p = s.port.protocol.toUpperCase();
  if (p === "HTTP" || p === "HTTP2" || p === "GRPC" || p === "GRPC-WEB") return "http";
  if (p === "HTTPS") return s.tls?.mode === "PASSTHROUGH" || s.tls?.mode === "AUTO_PASSTHROUGH" ? undefined : "https";
  return undefined;
}
