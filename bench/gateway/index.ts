/**
 * `benchGateway()`: the edge gateway's benchmarks. Route lookups per second against Hono's routers
 * (routing core, bench/gateway/route-lookup.ts), then requests per second and p50/p99 through the
 * gateway in workerd against a bare forwarding worker at saturation, and p50/p90/p99 of both at one
 * fixed request rate below capacity (bench/gateway/throughput.ts).
 */
import { benchRouteLookup } from "./route-lookup.ts";
import { benchGatewayThroughput, printThroughput } from "./throughput.ts";

export async function benchGateway(): Promise<void> {
  await benchRouteLookup();
  printThroughput(await benchGatewayThroughput());
}
