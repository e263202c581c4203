/**
 * Runs the real `strait` CLI (`node bin/strait.mjs ...`) as a subprocess and
 * collects its exit code and output. STRAIT_SERVER / STRAIT_TOKEN from the
 * parent environment are removed so tests only see what they pass.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { projectRoot } from "../../support/control-worker.ts";

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export const straitBin = join(projectRoot, "bin/strait.mjs");

export function strait(args: readonly string[], o: { stdin?: string; env?: Record<string, string>; cwd?: string } = {}): Promise<CliRun> {
  // A loaded CI machine can keep one control-worker request waiting past the CLI's 60 s default;
  // tests are about behaviour, not latency, so they wait longer unless a test sets its own.
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: "1", STRAIT_REQUEST_TIMEOUT: "5m", ...o.env };
  if (o.env?.STRAIT_SERVER === undefined) delete env.STRAIT_SERVER;
  if (o.env?.STRAIT_TOKEN === undefined) delete env.STRAIT_TOKEN;
  return runNodeScript(straitBin, args, { ...o, env });
}

/** Runs `node <script> ...args` and collects its exit code and output. */
export function runNodeScript(script: string, args: readonly string[], o: { stdin?: string; env?: Record<string, string | undefined>; cwd?: string } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { cwd: o.cwd ?? projectRoot, env: o.env ?? process.env, stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(o.stdin ?? "");
  });
}

/** A readable failure message showing what the CLI printed. */
export function show(r: CliRun): string {
  return `exit ${String(r.code)}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}
