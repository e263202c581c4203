import type { Command } from "commander";
import { ExitCode } from "./cli-errors.ts";
import { ControlClient, type ServerSetting } from "./client.ts";
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
  /** Where the URL and token of the last client came from, for error hints. */
  serverSetting: ServerSetting | undefined;
  tokenSetting: "--token" | "STRAIT_TOKEN" | undefined;
  /** Request body field -> the flag that set it (`ttlSeconds` -> `--ttl`), so server errors name what the user typed. */
  readonly fieldFlags = new Map<string, string>();

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
    const server = cmd.getOptionValueSourceWithGlobals("server");
    this.serverSetting = server === "env" ? "STRAIT_SERVER" : server === "cli" ? "--server" : "default";
    const token = cmd.getOptionValueSourceWithGlobals("token");
    this.tokenSetting = g.token === undefined || g.token === "" ? undefined : token === "env" ? "STRAIT_TOKEN" : "--token";
    return new ControlClient({
      server: g.server,
      token: g.token,
      timeoutMs: parseDurationSeconds(g.requestTimeout, "--request-timeout") * 1000,
      serverSetting: this.serverSetting,
    });
  }

  /** Declares which flag set each request body field, e.g. `{ ttlSeconds: "--ttl" }`. */
  flagsForFields(map: Record<string, string>): void {
    for (const [field, flag] of Object.entries(map)) this.fieldFlags.set(field, flag);
  }
}
