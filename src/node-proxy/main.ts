/**
 * strait-proxy: builds the base (identity, config, transport, admin, telemetry) and
 * starts the data plane on it.
 *
 * Start order: identity (restored from the state directory, or attested), then config
 * (last-known-good from disk, then the control plane), then the admin and metrics
 * ports, then the data plane. A control plane that is down at start is not fatal when
 * the state directory holds a usable identity and snapshot: the proxy serves from disk.
 */
import type { AddressInfo } from "node:net";
import { systemClock, type Clock } from "../core/clock.ts";
import type { DataPlaneContext, ProxyLogger, ProxySettings, StartDataPlane } from "./context.ts";
import { ConfigStateStore } from "./config/config-state.ts";
import { ConfigWatcher } from "./config/config-watcher.ts";
import { StateStore } from "./config/state-store.ts";
import { ControlApi } from "./identity/control-api.ts";
import { SvidManager } from "./identity/svid-manager.ts";
import { backoffDelay } from "./identity/renewal-schedule.ts";
import { handleAdmin, listenHttp } from "./admin/admin-server.ts";
import { handleMetrics } from "./admin/metrics-server.ts";
import { JsonAccessLog } from "./telemetry/access-log.ts";
import { jsonLogger } from "./telemetry/logger.ts";
import { PrometheusProxyMetrics } from "./telemetry/proxy-metrics.ts";
import { W3cProxyTracing } from "./telemetry/tracing.ts";
import { createHboneTransport } from "./transport/hbone-transport.ts";
import { parseSettings, SettingsError, usage } from "./settings.ts";

export interface StartProxyOptions {
  clock?: Clock;
  logger?: ProxyLogger;
  random?: () => number;
  /** The data plane to start; default: src/node-proxy/data-plane.ts. */
  startDataPlane?: StartDataPlane;
  fetch?: typeof fetch;
}

export interface RunningProxy {
  ctx: DataPlaneContext;
  identity: SvidManager;
  config: ConfigStateStore;
  watcher: ConfigWatcher;
  metrics: PrometheusProxyMetrics;
  /** Bound addresses: admin, metrics, and what the data plane reported (hbone, outbound...). */
  listening: ReadonlyMap<string, AddressInfo>;
  close(): Promise<void>;
}

/** How often the bundle is fetched between node renewals (SPIRE's default refresh hint). */
const BUNDLE_REFRESH_MS = 5 * 60_000;

export async function startProxy(settings: ProxySettings, o: StartProxyOptions = {}): Promise<RunningProxy> {
  const clock = o.clock ?? systemClock;
  const logger = o.logger ?? jsonLogger();
  const random = o.random ?? Math.random;
  const store = new StateStore(settings.stateDir);
  const metrics = new PrometheusProxyMetrics();
  const accessLog = new JsonAccessLog(settings.accessLog);
  const tracing = new W3cProxyTracing();
  const listening = new Map<string, AddressInfo>();
  const closers: (() => Promise<void> | void)[] = [];
  const close = async () => {
    for (const c of closers.reverse()) {
      try {
        await c();
      } catch (err) {
        logger.warn("error while closing", { error: err instanceof Error ? err.message : String(err) });
      }
    }
    closers.length = 0;
  };

  try {
    let identity: SvidManager | undefined;
    const api = new ControlApi({ baseUrl: settings.controlUrl, bearer: () => identity?.bearer(), ...(o.fetch === undefined ? {} : { fetch: o.fetch }) });
    identity = await SvidManager.start({ api, settings, clock, store, logger, random });
    const manager = identity;
    closers.push(() => manager.close());

    const config = new ConfigStateStore(clock, logger);
    // Workload SVIDs are fetched before a snapshot goes live, so its workloads can be served at once.
    await config.addPreparer(async (view) => {
      await manager.setWorkloads(new Set(view.snapshot.workloads.map((w) => w.spiffeId)));
    });
    config.onSwap((view) => manager.setRevocations(view.revoked));

    const watcher = new ConfigWatcher({ api, node: settings, state: config, store, bundle: () => manager.bundle(), clock, logger, longPollSeconds: settings.longPollSeconds, random });
    closers.push(() => watcher.close());
    const restored = await watcher.restore();
    const polled = await watcher.pollOnce();
    if (!polled && !restored) logger.warn("no config yet: the control plane is unreachable and the state directory has no snapshot; retrying");
    watcher.start();
    manager.onChange((change) => {
      if (change.kind === "svid" && change.spiffeId === manager.nodeSpiffeId()) watcher.nudge();
    });
    const bundleTimer = setInterval(() => {
      manager.refreshBundle().catch((err: unknown) => logger.warn("bundle refresh failed", { error: err instanceof Error ? err.message : String(err) }));
    }, BUNDLE_REFRESH_MS);
    bundleTimer.unref();
    closers.push(() => clearInterval(bundleTimer));

    const hbone = createHboneTransport({
      identity: manager,
      clock,
      logger,
      server: { onRefused: (reason) => metrics.count("hbone_peer_refused", { reason }) },
    });
    closers.push(() => hbone.connector.close());

    let dataPlaneUp = false;
    let dataPlaneDump: (() => unknown) | undefined;
    const admin = await listenHttp(settings.listen.admin, (req, res) =>
      handleAdmin(
        {
          identity: manager,
          config,
          readiness: () => {
            const view = config.current();
            return {
              nodeIdentity: manager.credentialsFor(manager.nodeSpiffeId()) !== undefined,
              config: view !== undefined,
              workloadIdentities: view === undefined || view.snapshot.workloads.every((w) => manager.credentialsFor(w.spiffeId) !== undefined),
              dataPlane: dataPlaneUp,
            };
          },
          dump: () => ({
            node: { cluster: settings.cluster, node: settings.node, spiffeId: manager.nodeSpiffeId() },
            watcher: watcher.status(),
            lastRejection: config.lastRejection ?? null,
            listening: Object.fromEntries([...listening].map(([k, a]) => [k, `${a.address}:${a.port}`])),
            hbone: hbone.connector.stats(),
            dataPlane: dataPlaneDump?.() ?? null,
          }),
        },
        req,
        res,
      ),
    );
    closers.push(() => admin.close());
    listening.set("admin", admin.address);
    const metricsServer = await listenHttp(settings.listen.metrics, (req, res) => handleMetrics(metrics, req, res));
    closers.push(() => metricsServer.close());
    listening.set("metrics", metricsServer.address);

    const ctx: DataPlaneContext = {
      settings,
      clock,
      identity: manager,
      config,
      hbone,
      metrics,
      log: accessLog,
      tracing,
      logger,
      reportListening: (name, address) => {
        listening.set(name, address);
      },
    };
    const start = o.startDataPlane ?? ((await import("./data-plane.ts")) as { startDataPlane: StartDataPlane }).startDataPlane;
    const dataPlane = await start(ctx);
    dataPlaneUp = true;
    const withDump = dataPlane as { dump?: () => unknown };
    if (typeof withDump.dump === "function") dataPlaneDump = () => withDump.dump?.();
    closers.push(() => dataPlane.close());
    closers.push(() => accessLog.close());
    logger.info("strait-proxy started", { node: manager.nodeSpiffeId(), listening: Object.fromEntries([...listening].map(([k, a]) => [k, a.port])) });
    return { ctx, identity: manager, config, watcher, metrics, listening, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Entry point of the `strait-proxy` bin. Resolves to the exit code. */
export async function main(argv: string[], env: Record<string, string | undefined> = process.env): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(usage());
    return 0;
  }
  let parsed: ReturnType<typeof parseSettings>;
  try {
    parsed = parseSettings(argv, env);
  } catch (err) {
    process.stderr.write(`strait-proxy: ${err instanceof SettingsError ? err.message : String(err)}\n\n${usage()}`);
    return 2;
  }
  const logger = jsonLogger(parsed.logLevel);
  const stop = new AbortController();
  const onSignal = (signal: string) => {
    logger.info("shutting down", { signal });
    stop.abort();
  };
  process.once("SIGTERM", () => onSignal("SIGTERM"));
  process.once("SIGINT", () => onSignal("SIGINT"));

  // Start, retrying while the control plane cannot be reached and nothing usable is on disk.
  let proxy: RunningProxy | undefined;
  for (let attempt = 1; proxy === undefined && !stop.signal.aborted; attempt++) {
    try {
      proxy = await startProxy(parsed.settings, { logger });
    } catch (err) {
      const permanent = err instanceof Error && "permanent" in err && (err as { permanent: boolean }).permanent;
      logger.error("start failed", { error: err instanceof Error ? err.message : String(err), attempt });
      if (permanent && attempt >= 3) return 1;
      const delay = backoffDelay(attempt, Math.random, { baseMs: 1000, capMs: 30_000 });
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        stop.signal.addEventListener("abort", () => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
  if (proxy === undefined) return 0;
  await new Promise<void>((resolve) => stop.signal.addEventListener("abort", () => resolve(), { once: true }));
  await proxy.close();
  return 0;
}
