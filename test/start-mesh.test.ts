/**
 * `npm start` as a new user meets it: a taken port is named with the setting that moves it
 * (instead of hanging), and a SIGTERM to the npm process stops every child it started, with one
 * line of output. Runs the real `npm start` in its own STRAIT_HOME (CA, secrets, D1/KV state).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, connect, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { projectRoot } from "./support/control-worker.ts";
import { descendantPids } from "../scripts/process-tree.ts";

let home: string;
/** Every `npm start` a test ran: one still running when the file ends (a failed test) is killed with its tree. */
const runs: ChildProcess[] = [];

before(async () => {
  home = await mkdtemp(join(tmpdir(), "strait-start-"));
});

after(async () => {
  for (const child of runs) {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) continue;
    for (const pid of [...descendantPids(child.pid), child.pid]) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }
  await rm(home, { recursive: true, force: true });
});

/** A port nobody listens on right now (bound, then released). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(port, "127.0.0.1");
    c.once("connect", () => (c.destroy(), resolve(true)));
    c.once("error", () => resolve(false));
  });
}

function npmStart(env: Record<string, string>): { child: ChildProcess; out: () => string; err: () => string; exited: Promise<number | null> } {
  const child = spawn("npm", ["start", "--silent"], { cwd: projectRoot, env: { ...process.env, ...env, STRAIT_HOME: home, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
  runs.push(child);
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  // "close": after the streams end too, i.e. also after every process that shared them (npm's child) has exited.
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return { child, out: () => out, err: () => err, exited };
}

function alive(pid: number): boolean {
  return existsSync(`/proc/${pid}`) && !/^\S+ \(.*\) Z/.test(safeStat(pid));
}

function safeStat(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return "";
  }
}

test("a taken port is named, with the setting that picks another, and npm start exits", { timeout: 180_000 }, async () => {
  const blocker: Server = createServer();
  await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", () => r()));
  const taken = (blocker.address() as { port: number }).port;
  try {
    const run = npmStart({ STRAIT_CONTROL_PORT: String(taken), STRAIT_GATEWAY_PORT: String(await freePort()) });
    const code = await Promise.race([run.exited, new Promise<"hung">((r) => setTimeout(() => r("hung"), 120_000))]);
    if (code === "hung") run.child.kill("SIGKILL");
    assert.notEqual(code, "hung", "npm start must not hang on a taken port");
    assert.notEqual(code, 0);
    assert.match(run.err(), new RegExp(`port ${taken} for the control API is already in use`));
    assert.match(run.err(), /STRAIT_CONTROL_PORT=<port> npm start/);
  } finally {
    blocker.close();
  }
});

test("SIGTERM to npm start stops every child and prints one line", { timeout: 400_000 }, async () => {
  const [controlPort, gatewayPort] = [await freePort(), await freePort()];
  const run = npmStart({ STRAIT_CONTROL_PORT: String(controlPort), STRAIT_GATEWAY_PORT: String(gatewayPort) });
  const up = await new Promise<boolean>((resolve) => {
    const timer = setInterval(() => {
      if (run.out().includes("Strait local mesh is up.")) (clearInterval(timer), resolve(true));
    }, 200);
    void run.exited.then(() => (clearInterval(timer), resolve(false)));
    setTimeout(() => (clearInterval(timer), resolve(false)), 300_000).unref();
  });
  assert.ok(up, `npm start came up\n${run.out()}\n${run.err()}`);
  // Bounded (undici's own header timeout is 5 min): on a machine as loaded as CI can be, the first
  // request through wrangler's dev proxy has been seen to stall; a later attempt says whether it serves.
  let health: Response | undefined;
  const attempts: string[] = [];
  for (let i = 0; i < 3 && health === undefined; i++) {
    try {
      health = await fetch(`http://127.0.0.1:${controlPort}/healthz`, { signal: AbortSignal.timeout(30_000) });
    } catch (err) {
      attempts.push(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
    }
  }
  assert.ok(health !== undefined, `the control API answers /healthz (${attempts.join("; ")})\n${run.out()}\n${run.err()}`);
  assert.equal(health.status, 200);
  assert.ok(await listening(gatewayPort));
  const children = descendantPids(run.child.pid!);
  assert.ok(children.length >= 2, `npm start runs node and workerd below npm: ${children.join(",")}`);

  const before = run.out();
  run.child.kill("SIGTERM");
  const code = await Promise.race([run.exited, new Promise<"hung">((r) => setTimeout(() => r("hung"), 30_000))]);
  assert.notEqual(code, "hung", "npm start stops on SIGTERM");
  // Give the kernel a moment to reap, then nothing may be left.
  for (let i = 0; i < 50 && children.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
  const left = children.filter(alive);
  for (const pid of left) process.kill(pid, "SIGKILL");
  assert.deepEqual(left, [], "no child outlives npm start");
  assert.equal(await listening(controlPort), false, "the control port is free again");
  assert.equal(await listening(gatewayPort), false, "the gateway port is free again");
  const shutdown = run.out().slice(before.length).split("\n").filter((l) => l.trim() !== "");
  assert.deepEqual(shutdown, ["strait: local mesh stopped (SIGTERM)"]);
});
