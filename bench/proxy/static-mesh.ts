/**
 * A mesh for the proxy benchmark without the control worker: a CA made with the identity
 * modules, X.509-SVIDs issued by the real issuer code (`issueX509Svid`) from CSRs made on the
 * "node", and node snapshots compiled from Istio YAML by the real snapshot compiler. It feeds the
 * real data plane and the real HBONE transport through a {@link DataPlaneContext} whose config
 * source is a file-like static snapshot (ztunnel's local-config mode); metrics and tracing are
 * the proxy's own (Prometheus registry, W3C trace context), the access log is off as by default.
 */
import type { AddressInfo } from "node:net";
import { systemClock, type Clock } from "../../src/core/clock.ts";
import { createIntermediateCa, createRootCa, loadSigningCa, type SigningCa } from "../../src/identity/ca.ts";
import { parseCsr } from "../../src/identity/csr.ts";
import { issueX509Svid } from "../../src/identity/x509-svid.ts";
import { SpiffeId } from "../../src/identity/spiffe-id.ts";
import { parseDocuments } from "../../src/core/config/parse-documents.ts";
import { validateResource } from "../../src/core/config/validate.ts";
import type { AnyResource } from "../../src/core/config/resource.ts";
import { compileSnapshots } from "../../src/core/snapshot/compile-snapshots.ts";
import type { NodeSnapshot } from "../../src/core/snapshot/snapshot-model.ts";
import { createCsr, generateLocalKey } from "../../src/node-proxy/identity/keys.ts";
import { StaticSvidSource } from "../../src/node-proxy/identity/static-svid-source.ts";
import { createHboneTransport } from "../../src/node-proxy/transport/hbone-transport.ts";
import { PrometheusProxyMetrics } from "../../src/node-proxy/telemetry/proxy-metrics.ts";
import { W3cProxyTracing } from "../../src/node-proxy/telemetry/tracing.ts";
import type {
  AccessLog,
  ConfigPreparer,
  ConfigState,
  ConfigView,
  DataPlaneContext,
  ProxyMetrics,
  ProxySettings,
  SvidCredentials,
} from "../../src/node-proxy/context.ts";

export interface StaticCa {
  trustDomain: string;
  /** The signing intermediate's PEMs (handed to child processes in the benchmark). */
  intermediate?: { certificatePem: string; privateKeyPem: string };
  rootPem: string;
  ca: SigningCa;
  chainPem: string;
}

export async function createStaticCa(trustDomain = "strait.local", clock: Clock = systemClock): Promise<StaticCa> {
  const root = await createRootCa({ trustDomain, clock, ttlSeconds: 2 * 86400 });
  const inter = await createIntermediateCa(root, { trustDomain, clock, ttlSeconds: 86400 });
  return { trustDomain, rootPem: root.certificatePem, ca: await loadSigningCa(inter), chainPem: inter.certificatePem, intermediate: inter };
}

/** An X.509-SVID for `spiffeId`: key and CSR made here, certificate from the issuer code. */
export async function issueSvid(ca: StaticCa, spiffeId: string, ttlSeconds = 3600, clock: Clock = systemClock): Promise<SvidCredentials> {
  const key = await generateLocalKey();
  const id = SpiffeId.parse(spiffeId);
  const csr = await parseCsr(await createCsr(key, spiffeId), id);
  const svid = await issueX509Svid({ csr, spiffeId: id, ca: ca.ca, clock, ttlSeconds });
  return {
    spiffeId,
    certChainPem: `${svid.certificatePem.trim()}\n${ca.chainPem.trim()}\n`,
    keyPem: key.privateKeyPem,
    serial: svid.serial,
    notBefore: svid.notBefore.getTime(),
    notAfter: svid.notAfter.getTime(),
  };
}

export function parseResources(yaml: string): AnyResource[] {
  return parseDocuments(yaml).map((doc, i) => {
    const r = validateResource(doc);
    if (!r.ok) throw new Error(`document ${i}: ${JSON.stringify(r.errors)}`);
    return r.resource;
  });
}

export function nodeSnapshots(resources: readonly AnyResource[], trustDomain: string): Map<string, NodeSnapshot> {
  const { nodes } = compileSnapshots({ resources, trustDomain });
  return new Map(nodes.map((n) => [`${n.node.cluster}/${n.node.node}`, n]));
}

/** A config state holding one snapshot at a time (swapped by `set`). */
export class StaticConfigState implements ConfigState {
  private view: ConfigView | undefined;
  private readonly preparers: ConfigPreparer[] = [];
  private readonly listeners = new Set<(n: ConfigView, p: ConfigView | undefined) => void>();
  private version = 0;

  constructor(private readonly clock: Clock = systemClock) {}

  async set(snapshot: NodeSnapshot): Promise<void> {
    const memo = new Map<string, unknown>();
    const view: ConfigView = {
      version: ++this.version,
      revision: this.version,
      hash: `static-${this.version}`,
      snapshot,
      appliedAt: this.clock.now(),
      origin: "disk",
      workloadsByAddress: new Map(snapshot.workloads.filter((w) => w.address !== undefined).map((w) => [w.address!, w])),
      workloadsByName: new Map(snapshot.workloads.map((w) => [`${w.namespace}/${w.name}`, w])),
      servicesByHost: new Map([...snapshot.inbound, ...snapshot.outbound].map((s) => [s.host, s])),
      revoked: new Set(snapshot.revocations.map((r) => r.spiffeId)),
      derive<T>(key: string, build: (v: ConfigView) => T): T {
        if (!memo.has(key)) memo.set(key, build(view));
        return memo.get(key) as T;
      },
    };
    for (const p of this.preparers) await p(view);
    const previous = this.view;
    this.view = view;
    for (const l of this.listeners) l(view, previous);
  }

  current(): ConfigView | undefined {
    return this.view;
  }

  onSwap(listener: (n: ConfigView, p: ConfigView | undefined) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async addPreparer(prepare: ConfigPreparer): Promise<void> {
    this.preparers.push(prepare);
    if (this.view !== undefined) await prepare(this.view);
  }
}

export const noAccessLog: AccessLog = { enabled: false, log() {} };

export interface StaticNode {
  ctx: DataPlaneContext;
  identity: StaticSvidSource;
  config: StaticConfigState;
  listening: Map<string, AddressInfo>;
}

/** A data-plane context for node `cluster/node` of a static mesh. Listeners on 127.0.0.1:0. */
export async function staticNode(o: {
  ca: StaticCa;
  cluster: string;
  node: string;
  snapshot: NodeSnapshot;
  hbonePeerPort?: number;
  metrics?: ProxyMetrics;
  log?: AccessLog;
  clock?: Clock;
  svidTtlSeconds?: number;
}): Promise<StaticNode> {
  const clock = o.clock ?? systemClock;
  const nodeId = `spiffe://${o.ca.trustDomain}/node/${o.cluster}/${o.node}`;
  const identity = new StaticSvidSource({ clock, nodeSpiffeId: nodeId, trustDomain: o.ca.trustDomain, x509AuthoritiesPem: o.ca.rootPem });
  identity.set(await issueSvid(o.ca, nodeId, o.svidTtlSeconds ?? 3600, clock));
  for (const w of o.snapshot.workloads) identity.set(await issueSvid(o.ca, w.spiffeId, o.svidTtlSeconds ?? 3600, clock));
  const config = new StaticConfigState(clock);
  await config.set(o.snapshot);
  const logger = { info() {}, warn() {}, error: (m: string, f?: Record<string, unknown>) => console.error(m, f) };
  const any = { host: "127.0.0.1", port: 0 };
  const settings: ProxySettings = {
    controlUrl: new URL("http://127.0.0.1:1"),
    cluster: o.cluster,
    node: o.node,
    attestation: { kind: "join-token", token: "unused" },
    listen: { outbound: any, inboundPlaintext: any, hbone: any, edgeIngress: any, admin: any, metrics: any },
    stateDir: "/nonexistent",
    longPollSeconds: 30,
    hbonePeerPort: o.hbonePeerPort ?? 15008,
    accessLog: "off",
  };
  const listening = new Map<string, AddressInfo>();
  const ctx: DataPlaneContext = {
    settings,
    clock,
    identity,
    config,
    hbone: createHboneTransport({ identity, clock, logger }),
    metrics: o.metrics ?? new PrometheusProxyMetrics(),
    log: o.log ?? noAccessLog,
    tracing: new W3cProxyTracing(),
    logger,
    reportListening: (name, address) => listening.set(name, address),
  };
  return { ctx, identity, config, listening };
}
