import type { GatewaySvidEntrypoint } from "../control/identity/gateway-svid-routes.ts";
import type { RateLimitCounterObject } from "./workers/rate-limit-object.ts";

/** Bindings and vars of the edge gateway worker (wrangler.toml default environment). */
export interface GatewayEnv {
  /** Where the control worker publishes signed snapshots. */
  CONFIG: KVNamespace;
  /** The control worker's RPC entrypoint: gateway JWT-SVIDs and the trust bundle (never a public route). */
  CONTROL_IDENTITY?: Service<GatewaySvidEntrypoint>;
  /** Global rate-limit counters (one Durable Object per bucket). */
  RATE_LIMITER?: DurableObjectNamespace<RateLimitCounterObject>;
  TRUST_DOMAIN?: string;
  ROOT_NAMESPACE?: string;
  /** A pinned SPIFFE bundle (JSON) for snapshot verification instead of asking the control worker. */
  TRUST_BUNDLE?: string;
  /** Seconds between snapshot version checks (default 2). */
  SNAPSHOT_CHECK_SECONDS?: string;
  OTEL_EXPORTER_OTLP_ENDPOINT?: string;
  OTEL_EXPORTER_OTLP_HEADERS?: string;
  OTEL_METRIC_EXPORT_INTERVAL?: string;
  OTEL_SERVICE_NAME?: string;
  /** ms between span exports per isolate (default 5000; 0 = after each request). */
  OTEL_BSP_SCHEDULE_DELAY?: string;
  /** Most spans in one export (default 512). */
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE?: string;
  /** Most spans waiting for export per isolate (default 2048; beyond that spans are dropped and counted). */
  OTEL_BSP_MAX_QUEUE_SIZE?: string;
  /** `off` disables the JSON access log. */
  ACCESS_LOG?: string;
  /** `on` returns `x-request-id` on every response (default `off`, as Envoy). */
  RESPONSE_REQUEST_ID?: string;
}
