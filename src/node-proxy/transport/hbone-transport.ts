/** The HBONE transport the data plane gets in its context: one pooled connector, servers on demand. */
import type { Clock } from "../../core/clock.ts";
import type { HboneTransport, ProxyLogger } from "../context.ts";
import { PooledHboneConnector, type HboneConnectorOptions, type TransportIdentity } from "./hbone-connector.ts";
import { createHboneServer, type HboneServerDeps } from "./hbone-server.ts";

export function createHboneTransport(o: {
  identity: TransportIdentity & HboneServerDeps["identity"];
  clock: Clock;
  logger: ProxyLogger;
  connector?: Omit<HboneConnectorOptions, "identity" | "clock">;
  server?: Omit<HboneServerDeps, "identity" | "clock" | "logger">;
}): HboneTransport {
  const connector = new PooledHboneConnector({ identity: o.identity, clock: o.clock, ...(o.connector ?? {}) });
  return {
    connector,
    createServer: (options) => createHboneServer({ identity: o.identity, clock: o.clock, logger: o.logger, ...(o.server ?? {}) }, options),
  };
}
