/**
 * `npm run bench [identity|control|gateway|proxy]`: runs the benchmarks and prints their tables.
 * Each benchmark compares against a peer or the direct path in the same run and prints ratios.
 */
import os from "node:os";

const which = process.argv.slice(2);
const want = (name: string) => which.length === 0 || which.includes(name);

console.log(`machine: ${os.cpus()[0]?.model ?? "unknown cpu"}, ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}`);
if (want("identity")) {
  const { benchIdentity } = await import("./identity.ts");
  await benchIdentity();
}
if (want("control")) {
  const { benchControl } = await import("./control.ts");
  await benchControl();
}
if (want("gateway")) {
  // bench/gateway/index.ts: route lookups vs Hono's routers, and requests through the gateway vs a bare forwarding worker.
  const { benchGateway } = await import("./gateway/index.ts");
  await benchGateway();
}
if (want("proxy")) {
  const { benchProxy } = await import("./proxy/index.ts");
  await benchProxy();
}
