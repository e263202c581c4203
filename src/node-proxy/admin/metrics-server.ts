/** Prometheus port (15020): `/stats/prometheus` in the text exposition format. */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { PrometheusProxyMetrics } from "../telemetry/proxy-metrics.ts";

export async function handleMetrics(metrics: PrometheusProxyMetrics, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? "/").split("?")[0];
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405).end();
    return;
  }
  if (path !== "/stats/prometheus" && path !== "/metrics") {
    res.writeHead(404, { "content-type": "text/plain" }).end("not found: /stats/prometheus\n");
    return;
  }
  const body = await metrics.render();
  res.writeHead(200, { "content-type": metrics.contentType, "cache-control": "no-store" }).end(body);
}
