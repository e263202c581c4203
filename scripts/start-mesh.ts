/**
 * `npm start`: runs the local mesh on this machine.
 *
 *  1. creates a local CA, JWT key and admin token on first run (scripts/bootstrap-ca.ts -> .strait/ca/, .dev.vars)
 *  2. applies the D1 migrations to the local state in .wrangler/state
 *  3. starts the control API (wrangler env "control") and the edge gateway under workerd,
 *     sharing that state, so the gateway reads the snapshots the control API writes to KV
 *  4. prints where to look, and runs until Ctrl-C / SIGTERM, which stop every child.
 *
 * Settings (environment):
 *   STRAIT_CONTROL_PORT  control API port on 127.0.0.1 (default 8787)
 *   STRAIT_GATEWAY_PORT  edge gateway port on 127.0.0.1 (default 8788)
 *   STRAIT_HOME          directory holding .strait/ca, .dev.vars and .wrangler/state (default: the checkout)
 */
import { unstable_startWorker } from "wrangler";
import { execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { SECRET_FILES } from "./bootstrap-ca.ts";
import { descendantPids } from "./process-tree.ts";

process.env.CLOUDFLARE_CF_FETCH_ENABLED ??= "false";
process.env.WRANGLER_SEND_METRICS ??= "false";

const root = resolve(import.meta.dirname, "..");
const home = resolve(process.env.STRAIT_HOME ?? root);
const persist = join(home, ".wrangler", "state");
const wrangler = join(root, "node_modules/wrangler/bin/wrangler.js");

interface PortSetting {
  name: "STRAIT_CONTROL_PORT" | "STRAIT_GATEWAY_PORT";
  what: string;
  fallback: number;
}

function fail(message: string): never {
  process.stderr.write(`strait: ${message}\n`);
  process.exit(1);
}

function portFrom(s: PortSetting): number {
  const raw = process.env[s.name];
  if (raw === undefined || raw === "") return s.fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) fail(`${s.name}: expected a port number from 0 to 65535, got ${JSON.stringify(raw)}`);
  return n;
}

/** Null when 127.0.0.1:port can be bound (it is released at once), else the error code that refused it. */
function bindError(port: number): Promise<string | null> {
  return new Promise((done) => {
    const probe = createServer();
    probe.once("error", (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
    probe.listen({ host: "127.0.0.1", port, exclusive: true }, () => probe.close(() => done(null)));
  });
}

/** Resolves when 127.0.0.1:port can be bound; otherwise says who to blame and how to pick another. */
async function ensureFree(port: number, s: PortSetting): Promise<void> {
  if (port === 0) return;
  const code = await bindError(port);
  if (code === null) return;
  const why = code === "EADDRINUSE" ? "is already in use" : `cannot be bound (${code})`;
  fail(`port ${port} for the ${s.what} ${why} on 127.0.0.1.\n  Stop whatever holds it (e.g. an earlier \`npm start\`: \`lsof -i :${port}\` or \`ss -ltnp | grep :${port}\`),\n  or pick another port: ${s.name}=<port> npm start`);
}

function step(msg: string): void {
  console.log(`\x1b[36m▸\x1b[0m ${msg}`);
}

const CONTROL: PortSetting = { name: "STRAIT_CONTROL_PORT", what: "control API", fallback: 8787 };
const GATEWAY: PortSetting = { name: "STRAIT_GATEWAY_PORT", what: "edge gateway", fallback: 8788 };
const controlPort = portFrom(CONTROL);
const gatewayPort = portFrom(GATEWAY);
if (controlPort !== 0 && controlPort === gatewayPort) fail(`STRAIT_CONTROL_PORT and STRAIT_GATEWAY_PORT are both ${controlPort}: give them different ports`);
await ensureFree(controlPort, CONTROL);
await ensureFree(gatewayPort, GATEWAY);

step("local CA and secrets (.strait/ca, .dev.vars)");
// From the checkout (where tsx resolves), writing into home.
execFileSync(process.execPath, ["--import", "tsx", join(root, "scripts/bootstrap-ca.ts"), "--out", join(home, ".strait", "ca"), "--dev-vars", join(home, ".dev.vars")], { cwd: root, stdio: "inherit" });
const secrets: Record<string, { type: "secret_text"; value: string }> = {};
for (const [name, file] of Object.entries(SECRET_FILES)) {
  secrets[name] = { type: "secret_text", value: (await readFile(join(home, ".strait", "ca", file), "utf8")).trim() };
}

step("D1 migrations (local)");
execFileSync(process.execPath, [wrangler, "d1", "migrations", "apply", "DB", "--local", "--env", "control", "--persist-to", persist], {
  cwd: root,
  stdio: ["ignore", "ignore", "inherit"],
  env: { ...process.env, CI: "true" },
});

type Worker = Awaited<ReturnType<typeof unstable_startWorker>>;
const started: Worker[] = [];
let stopping = false;

/** Stops both workers, then anything they left behind (workerd, esbuild), and prints one line. */
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  const timeout = new Promise((r) => setTimeout(r, 5_000).unref());
  await Promise.race([Promise.allSettled(started.map((w) => w.dispose())), timeout]);
  for (const pid of descendantPids(process.pid)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  process.stdout.write(`strait: local mesh stopped (${signal})\n`);
  process.exit(0);
}
// wrangler installs SIGINT/SIGTERM handlers (some only once a worker starts) that exit at once,
// before the workers are disposed, leaving workerd serving the ports. Ours must be the only ones.
const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
const onSignal = (signal: string) => void stop(signal);
function ownSignals(): void {
  for (const signal of SIGNALS) {
    for (const l of process.listeners(signal)) if (l !== onSignal) process.removeListener(signal, l);
    if (!process.listeners(signal).includes(onSignal)) process.on(signal, onSignal);
  }
}
ownSignals();

// One dev registry for both workers: it resolves the gateway's CONTROL_IDENTITY service binding
// (the control worker's RPC entrypoint) across the two `unstable_startWorker` instances.
const registry = join(home, ".wrangler", "registry");
const dev = (port: number) => ({ persist, registry, inspector: false as const, watch: false, logLevel: "warn" as const, server: { hostname: "127.0.0.1", port } });
// A worker that cannot start (its port taken meanwhile, a build error) must not leave `npm start` hanging.
async function startOrFail(what: string, start: () => Promise<Worker>): Promise<Worker> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not start within 120 s`)), 120_000);
  });
  try {
    const w = await Promise.race([start(), limit]);
    started.push(w);
    ownSignals();
    await Promise.race([w.ready, limit]);
    ownSignals();
    return w;
  } catch (err) {
    process.stderr.write(`strait: ${what} failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    await stop("startup failure");
    process.exit(1);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * True once `url`/healthz gives any HTTP answer within `budgetMs` (each try bounded). wrangler's
 * `ready` can come before its dev proxy forwards: on a loaded machine one was seen holding every
 * request after both workers had started (a reload the second worker's registration set off that
 * never finished), so "up" is only printed for workers that answer.
 */
async function answers(url: string, budgetMs: number): Promise<boolean> {
  const deadline = Date.now() + budgetMs;
  for (;;) {
    const left = deadline - Date.now();
    if (left <= 0) return false;
    try {
      const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(Math.min(10_000, left)) });
      await res.body?.cancel();
      return true;
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

async function urlOf(w: Worker): Promise<string> {
  return (await w.url).href.replace(/\/$/, "");
}

/** True once 127.0.0.1:port can be bound again (port 0: at once), polling for up to `budgetMs`. */
async function portReleased(port: number, budgetMs: number): Promise<boolean> {
  if (port === 0) return true;
  const deadline = Date.now() + budgetMs;
  for (;;) {
    const free = (await bindError(port)) === null;
    if (free || Date.now() >= deadline) return free;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The worker's URL, or `npm start` exits naming the worker (wrangler rejects it when workerd failed to start). */
async function urlOrFail(what: string, w: Worker): Promise<string> {
  try {
    return await urlOf(w);
  } catch (err) {
    process.stderr.write(`strait: ${what} failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    await stop("startup failure");
    process.exit(1);
  }
}

/**
 * `w` if it answers; else it is started once more, and `npm start` exits naming it if it still does
 * not. The first budget is generous (a loaded machine was seen taking over 30 s) and costs nothing
 * when the worker answers; the restart waits for the old workerd to let go of the port, since a
 * second workerd that cannot bind it fails to start.
 */
async function answering(what: string, w: Worker, port: number, start: () => Promise<Worker>): Promise<Worker> {
  const url = await urlOrFail(what, w);
  if (await answers(url, 90_000)) return w;
  step(`${what} started but does not answer on ${url}; starting it again`);
  started.splice(started.indexOf(w), 1);
  await Promise.race([w.dispose(), new Promise((r) => setTimeout(r, 10_000).unref())]);
  if (!(await portReleased(port, 30_000))) {
    process.stderr.write(`strait: ${what} was stopped to start it again, but port ${port} is still held 30 s later\n`);
    await stop("startup failure");
    process.exit(1);
  }
  const again = await startOrFail(what, start);
  const againUrl = await urlOrFail(what, again);
  if (await answers(againUrl, 60_000)) return again;
  process.stderr.write(`strait: ${what} started but does not answer requests on ${againUrl}\n`);
  await stop("startup failure");
  process.exit(1);
}

step("control API (workerd)");
const startControl = () =>
  unstable_startWorker({
    config: join(root, "wrangler.toml"),
    env: "control",
    // The checkout's own .dev.vars (other local vars a developer keeps there) only when it is home;
    // the CA's secrets always come from home's .strait/ca.
    ...(home === root ? {} : { envFiles: [".strait-no-env-file"] }),
    bindings: secrets,
    dev: dev(controlPort),
  });
const startedControl = await startOrFail("the control API", startControl);
step("edge gateway (workerd)");
const startGateway = () => unstable_startWorker({ config: join(root, "wrangler.toml"), dev: dev(gatewayPort) });
const gateway = await answering("the edge gateway", await startOrFail("the edge gateway", startGateway), gatewayPort, startGateway);
// Checked after the gateway started: its registration in the shared dev registry reloads the control worker.
const control = await answering("the control API", startedControl, controlPort, startControl);
ownSignals();
const controlUrl = await urlOf(control);
const gatewayUrl = await urlOf(gateway);

console.log(`
Strait local mesh is up.

  control API   ${controlUrl}          (health: ${controlUrl}/healthz)
  trust bundle  ${controlUrl}/.well-known/spiffe-bundle
  edge gateway  ${gatewayUrl}          (health: ${gatewayUrl}/healthz)
  state         ${persist}   (local D1 + KV, shared by both workers)
  admin token   ${join(home, ".strait/ca/admin-token")} (also ADMIN_TOKEN in .dev.vars)

Try:
  export STRAIT_SERVER=${controlUrl} STRAIT_TOKEN=$(cat .strait/ca/admin-token)
  npx strait join-token create --cluster local --node node-1
  npx strait apply -f deploy/samples/bookinfo.yaml && npx strait get vs -A

Ctrl-C stops everything.
`);
