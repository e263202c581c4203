/**
 * `npm start`: runs the local mesh on this machine.
 *
 *  1. creates a local CA, JWT key and admin token on first run (scripts/bootstrap-ca.ts -> .dev.vars, .strait/ca/)
 *  2. applies the D1 migrations to the local state in .wrangler/state
 *  3. starts the control API (wrangler env "control") and the edge gateway under workerd,
 *     sharing that state, so the gateway reads the snapshots the control API writes to KV
 *  4. prints where to look, and runs until Ctrl-C.
 *
 * Ports: STRAIT_CONTROL_PORT (8787) and STRAIT_GATEWAY_PORT (8788), bound to 127.0.0.1.
 */
import { unstable_startWorker } from "wrangler";
import { execFileSync } from "node:child_process";
import { join, resolve } from "node:path";

process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= "false";
process.env.WRANGLER_SEND_METRICS ??= "false";

const root = resolve(import.meta.dirname, "..");
const persist = join(root, ".wrangler", "state");
const controlPort = Number(process.env.STRAIT_CONTROL_PORT ?? 8787);
const gatewayPort = Number(process.env.STRAIT_GATEWAY_PORT ?? 8788);
const wrangler = join(root, "node_modules/wrangler/bin/wrangler.js");

function step(msg: string): void {
  console.log(`\x1b[36m▸\x1b[0m ${msg}`);
}

step("local CA and secrets (.dev.vars)");
execFileSync(process.execPath, ["--import", "tsx", join(root, "scripts/bootstrap-ca.ts")], { cwd: root, stdio: "inherit" });

step("D1 migrations (local)");
execFileSync(process.execPath, [wrangler, "d1", "migrations", "apply", "DB", "--local", "--env", "control", "--persist-to", persist], {
  cwd: root,
  stdio: ["ignore", "ignore", "inherit"],
  env: { ...process.env, CI: "true" },
});

const dev = (port: number) => ({ persist, inspector: false as const, watch: false, logLevel: "warn" as const, server: { hostname: "127.0.0.1", port } });
step("control API (workerd)");
const control = await unstable_startWorker({ config: join(root, "wrangler.toml"), env: "control", dev: dev(controlPort) });
step("edge gateway (workerd)");
const gateway = await unstable_startWorker({ config: join(root, "wrangler.toml"), dev: dev(gatewayPort) });
const controlUrl = (await control.url).href.replace(/\/$/, "");
const gatewayUrl = (await gateway.url).href.replace(/\/$/, "");

console.log(`
Strait local mesh is up.

  control API   ${controlUrl}          (health: ${controlUrl}/healthz)
  trust bundle  ${controlUrl}/.well-known/spiffe-bundle
  edge gateway  ${gatewayUrl}          (health: ${gatewayUrl}/healthz)
  state         ${persist}   (local D1 + KV, shared by both workers)
  admin token   .strait/ca/admin-token (also ADMIN_TOKEN in .dev.vars)

Try:
  export STRAIT_SERVER=${controlUrl} STRAIT_TOKEN=$(cat .strait/ca/admin-token)
  npx strait join-token create --cluster local --node node-1
  npx strait apply -f deploy/samples/bookinfo.yaml && npx strait get vs -A

Ctrl-C stops everything.
`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.allSettled([control.dispose(), gateway.dispose()]);
  process.exit(0);
}
process.on("SIGINT", () => void stop());
process.on("SIGTERM", () => void stop());
