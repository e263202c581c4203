/**
 * Runs the edge gateway's `deno serve` entry (src/edge-gateway/adapters/deno/main.ts) under Deno
 * from npm (`@deno/linux-x64-glibc`) on an OS-picked 127.0.0.1 port.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import { projectRoot } from "./isolated-project.ts";

export interface DenoGateway {
  url: URL;
  /** Everything the process printed (access log, warnings). */
  output(): string;
  stop(): Promise<void>;
}

export { denoBinary } from "./runtimes.ts";
import { denoBinary } from "./runtimes.ts";

export async function startDenoGateway(env: Record<string, string>): Promise<DenoGateway> {
  const deno = await denoBinary();
  const child: ChildProcess = spawn(
    deno,
    ["serve", "--allow-net", "--allow-env", "--allow-read", "--host", "127.0.0.1", "--port", "0", "--config", join(projectRoot, "deno.json"), join(projectRoot, "src/edge-gateway/adapters/deno/main.ts")],
    { cwd: projectRoot, env: { ...process.env, ...env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  const url = await new Promise<URL>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`deno serve did not start: ${out}`)), 60_000);
    const onData = (b: Buffer) => {
      out += b.toString("utf8");
      const m = /Listening on (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve(new URL(m[1]!));
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`deno serve exited with ${code}: ${out}`));
    });
  });
  child.removeAllListeners("exit");
  return {
    url,
    output: () => out,
    // deno serve drains open connections on SIGTERM (the test client's keep-alive ones, the
    // long-poll): give it a moment, then make sure it is gone.
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const force = setTimeout(() => child.kill("SIGKILL"), 3_000);
        child.once("exit", () => (clearTimeout(force), resolve()));
        child.kill("SIGTERM");
      }),
  };
}
