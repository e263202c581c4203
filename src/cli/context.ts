import type { Command } from "commander";
import { ExitCode } from "./cli-errors.ts";
import { ControlClient } from "./client.ts";
import { parseDurationSeconds } from "./duration.ts";
import { readProcessStdin } from "./manifest-sources.ts";

/** Where a command's output goes; the process streams in real use. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  readStdin(): Promise<string>;
  /** Wall clock for ages and expiry hints. */
  now(): number;
}

export const processIo: CliIo = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  readStdin: readProcessStdin,
  now: () => Date.now(),
};

/** Options defined on the root program and visible to every command. */
export interface GlobalOptions {
  server: string;
  token?: string;
  requestTimeout: string;
}

/** Shared state of one CLI run: its I/O, the exit code so far and the API client factory. */
export class CliContext {
  private code: ExitCode = ExitCode.ok;

  constructor(readonly io: CliIo) {}

  get exitCode(): ExitCode {
    return this.code;
  }

  /** Marks the run as failed (exit 1) without aborting it, e.g. `analyze` found errors. */
  fail(): void {
    if (this.code === ExitCode.ok) this.code = ExitCode.failed;
  }

  /** A client built from `--server`, `--token` and `--request-timeout` (or STRAIT_SERVER / STRAIT_TOKEN). */
  client(cmd: Command): ControlClient {
    const g = cmd.optsWithGlobals<GlobalOptions>();
    return new ControlClient({
      server: g.server,
      token: g.token,
      timeoutMs: parseDurationSeconds(g.requestTimeout, "--request-timeout") * 1000,
    });
  }
}
