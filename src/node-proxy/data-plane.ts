/**
 * The node proxy's data plane: the outbound explicit proxy (15001), the HBONE inbound (15008,
 * on H4's mutual-TLS server), the plaintext inbound for PERMISSIVE peers (15006) and the
 * edge-ingress listener (15443). `main.ts` builds the context (identity, config, transport,
 * telemetry) and calls {@link startDataPlane}.
 *
 * Route tables and policy engines are compiled per config view by a preparer, so the cost is
 * paid before a snapshot is swapped in, and a snapshot that cannot be compiled is refused whole.
 */
import http from "node:http";
import type { DataPlaneContext, HboneServer, StartDataPlane } from "./context.ts";
import { ClusterStates } from "./resilience/cluster-state.ts";
import { HboneAgentPool } from "./outbound/hbone-agent-pool.ts";
import { OutboundHttp, meshRoutesFor } from "./outbound/http-outbound.ts";
import { handleConnect } from "./outbound/connect-tunnel.ts";
import { closeServer, createProxyHttpServer, listen } from "./outbound/outbound-listener.ts";
import { InboundHttp, authorizationFor } from "./inbound/inbound-http.ts";
import { HboneInbound } from "./inbound/hbone-inbound.ts";
import { PlaintextInbound } from "./inbound/plaintext-inbound.ts";
import { EdgeIngress } from "./inbound/edge-ingress.ts";
import { localTargets } from "./inbound/local-targets.ts";

export interface DataPlane {
  close(): Promise<void>;
  /** Per-cluster pools and ejections, for /config_dump. */
  dump(): unknown;
}

export const startDataPlane: StartDataPlane = async (ctx: DataPlaneContext): Promise<DataPlane> => {
  const clusters = new ClusterStates(ctx.clock, (cluster, e) => {
    ctx.metrics.count("outlier_ejections", { cluster, reason: e.reason });
    ctx.logger.warn("endpoint ejected", { cluster, endpoint: e.endpoint, ejectedForMs: e.ejectedForMs, reason: e.reason });
  });
  const agents = new HboneAgentPool(ctx.hbone.connector);

  await ctx.config.addPreparer((view) => {
    for (const w of view.snapshot.workloads) {
      meshRoutesFor(view, w);
      authorizationFor(view, `${w.namespace}/${w.name}`);
    }
    localTargets(view);
  });

  const outbound = new OutboundHttp({ ctx, clusters, agents });
  const outboundServer = createProxyHttpServer({
    request: outbound.handle,
    connect: (req, socket, head) => handleConnect({ ctx, clusters }, req, socket, head),
    upgrade: outbound.upgrade,
  });

  const inboundHttp = new InboundHttp(ctx);
  const hboneInbound = new HboneInbound(ctx, inboundHttp);
  const plaintext = new PlaintextInbound(ctx, inboundHttp);
  const plaintextServer = createProxyHttpServer({ request: plaintext.handle, upgrade: plaintext.upgrade });
  const edge = new EdgeIngress(ctx, inboundHttp);
  const edgeServer = createProxyHttpServer({ request: edge.handle });
  const hboneServer: HboneServer = ctx.hbone.createServer({ onStream: hboneInbound.onStream });

  const servers: http.Server[] = [];
  try {
    ctx.reportListening("hbone", await hboneServer.listen(ctx.settings.listen.hbone));
    ctx.reportListening("outbound", await listen(outboundServer, ctx.settings.listen.outbound));
    servers.push(outboundServer);
    ctx.reportListening("inboundPlaintext", await listen(plaintextServer, ctx.settings.listen.inboundPlaintext));
    servers.push(plaintextServer);
    ctx.reportListening("edgeIngress", await listen(edgeServer, ctx.settings.listen.edgeIngress));
    servers.push(edgeServer);
  } catch (err) {
    await Promise.all(servers.map(closeServer));
    await hboneServer.close();
    throw err;
  }

  return {
    dump: () => ({ clusters: clusters.dump() }),
    async close() {
      await Promise.all(servers.map(closeServer));
      hboneInbound.close();
      await closeServer(hboneInbound.server);
      await hboneServer.close();
      agents.close();
      inboundHttp.localAgent.destroy();
    },
  };
};
