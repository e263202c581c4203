/**
 * The edge gateway on Deno 2: `deno serve` entry around the same runtime-neutral gateway the
 * Workers entry uses.
 *
 *   deno serve --allow-net --allow-env --allow-read --port 8788 src/edge-gateway/adapters/deno/main.ts
 *
 * Configuration (environment):
 *   STRAIT_CONTROL_URL + STRAIT_CONTROL_TOKEN   snapshot from the control API (long-poll), or
 *   STRAIT_SNAPSHOT_FILE                        snapshot from a file (signed head JSON)
 *   STRAIT_TRUST_BUNDLE_FILE                    pinned SPIFFE bundle (JSON); default: the control
 *                                               API's /.well-known/spiffe-bundle
 *   TRUST_DOMAIN (strait.local), ROOT_NAMESPACE, SNAPSHOT_CHECK_SECONDS (2),
 *   OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_HEADERS, OTEL_METRIC_EXPORT_INTERVAL, ACCESS_LOG,
 *   RESPONSE_REQUEST_ID (off)
 * An invalid SNAPSHOT_CHECK_SECONDS, ACCESS_LOG or RESPONSE_REQUEST_ID is logged once and every request (/healthz too)
 * gets a 503 naming it; an invalid OTEL_* var is a warning and its default (gateway-settings.ts).
 * Upstream and mirror requests use Deno's node:http client, not fetch (upstream-fetch.ts: Host as
 * planned, nothing added, the upstream's bytes passed on).
 * Rate limits count per process (no Durable Objects here). In-cluster upstreams need the
 * gateway's JWT-SVID, which only the Workers entry can mint (service binding): on Deno they fail
 * with 503 UF.
 */
import { systemClock } from "../../../core/clock.ts";
import { createJwksResolver } from "../../../core/policy/index.ts";
import { SnapshotReader, type SnapshotSource } from "../../../core/snapshot/snapshot-reader.ts";
import { snapshotTarget, type GatewaySnapshot } from "../../../core/snapshot/snapshot-model.ts";
import { compileGateway, type CompiledGateway } from "../../gateway/compiled-gateway.ts";
import { EdgeGateway } from "../../gateway/edge-gateway.ts";
import { gatewaySettingsFrom, logProblems, misconfiguredResponse } from "../../gateway/gateway-settings.ts";
import { GatewayTelemetry } from "../../gateway/gateway-telemetry.ts";
import { sleep, type GatewayPlatform } from "../../gateway/platform.ts";
import { InMemoryRateLimiter } from "../../rate-limit/rate-limiter.ts";
import { SnapshotState } from "../../snapshot/snapshot-state.ts";
import { bundleKeyLookup } from "../../snapshot/trust-keys.ts";
import { controlApiSnapshotSource } from "./snapshot-source-control-api.ts";
import { fileSnapshotSource } from "./snapshot-source-file.ts";
import { upstreamFetch } from "./upstream-fetch.ts";

declare const Deno: {
  env: { toObject(): Record<string, string> };
  readTextFile(path: string): Promise<string>;
};

interface ServeInfo {
  remoteAddr: { hostname: string; port: number };
}

const env = Deno.env.toObject();
const clock = systemClock;
const trustDomain = env.TRUST_DOMAIN ?? "strait.local";
const controlUrl = env.STRAIT_CONTROL_URL?.replace(/\/+$/, "");
const LONG_POLL_SECONDS = 30;

function source(): SnapshotSource {
  if (env.STRAIT_SNAPSHOT_FILE !== undefined) return fileSnapshotSource(env.STRAIT_SNAPSHOT_FILE, (p) => Deno.readTextFile(p));
  if (controlUrl === undefined || env.STRAIT_CONTROL_TOKEN === undefined) {
    throw new Error("set STRAIT_SNAPSHOT_FILE, or STRAIT_CONTROL_URL and STRAIT_CONTROL_TOKEN");
  }
  return controlApiSnapshotSource({ baseUrl: controlUrl, token: env.STRAIT_CONTROL_TOKEN });
}

async function loadBundle(): Promise<{ trustDomain: string; bundle: unknown }> {
  if (env.STRAIT_TRUST_BUNDLE_FILE !== undefined) return { trustDomain, bundle: JSON.parse(await Deno.readTextFile(env.STRAIT_TRUST_BUNDLE_FILE)) as unknown };
  if (controlUrl === undefined) throw new Error("set STRAIT_TRUST_BUNDLE_FILE (or STRAIT_CONTROL_URL) to verify snapshots");
  const res = await fetch(`${controlUrl}/.well-known/spiffe-bundle`);
  if (!res.ok) throw new Error(`trust bundle: control API answered ${res.status}`);
  return { trustDomain, bundle: (await res.json()) as unknown };
}

const jwks = createJwksResolver({ clock, fetch: (input, init) => fetch(input, init) });
const fromControl = env.STRAIT_SNAPSHOT_FILE === undefined;
const settings = gatewaySettingsFrom(env);
logProblems(settings.problems);
const misconfigured = settings.problems.length > 0;
const state = new SnapshotState<CompiledGateway>({
  reader: new SnapshotReader<GatewaySnapshot>({ source: source(), target: snapshotTarget(), type: "gateway", keys: bundleKeyLookup({ load: loadBundle, clock, trustDomain }) }),
  clock,
  // With the control API a background long-poll picks changes up as they are published.
  checkIntervalMs: fromControl ? Number.POSITIVE_INFINITY : settings.snapshotCheckMs,
  ...(fromControl ? { waitSeconds: LONG_POLL_SECONDS } : {}),
  compile: (v) => {
    const c = compileGateway(v, { jwks, clock, ...(env.ROOT_NAMESPACE === undefined ? {} : { rootNamespace: env.ROOT_NAMESPACE }) });
    for (const issue of c.issues) console.warn(`gateway snapshot v${v.version}: ${issue}`);
    return c;
  },
  log: (m) => console.error(m),
});
const telemetry = new GatewayTelemetry(settings.telemetry, () => clock.now(), (r) => fetch(r));
const gateway = new EdgeGateway({ state, telemetry, trustDomain, responseRequestId: settings.responseRequestId, ...(env.ROOT_NAMESPACE === undefined ? {} : { namespace: env.ROOT_NAMESPACE }) });
// Upstreams and mirrors: the planned Host, nothing added, the upstream's bytes back (upstream-fetch.ts).
const platform: GatewayPlatform = {
  clock,
  fetch: upstreamFetch(),
  waitUntil: (p) => void p.catch((err: unknown) => console.error("background task failed:", err instanceof Error ? err.message : String(err))),
  rateLimiter: new InMemoryRateLimiter(() => clock.now()),
  accessLog: (line) => console.log(line),
  sleep,
  // Deno.serve sends a stream with the response's own Content-Length header.
  sizedBody: (body) => body,
};

if (fromControl && !misconfigured) {
  // The long-poll loop: returns at once when a newer snapshot is published, else after the wait.
  void (async () => {
    for (;;) {
      const started = clock.now();
      const version = state.status().version;
      await state.refresh();
      // Nothing published yet, or a refusal: the poll returned at once; do not spin.
      if (state.status().version === version && clock.now() - started < 1000) await sleep(1000);
    }
  })();
}

export default {
  fetch(req: Request, info: ServeInfo): Promise<Response> | Response {
    const url = new URL(req.url);
    if (misconfigured) return misconfiguredResponse(settings.problems, req.method, url.pathname);
    if (url.pathname === "/healthz") return Response.json(gateway.health());
    // `deno serve` aborts the request's signal when the client disconnects.
    return gateway.handle(req, platform, { clientIp: info.remoteAddr.hostname, url, downstream: req.signal });
  },
};
