/**
 * JSON access log, one object per line, with Envoy's field names and response flags
 * (`-` when none). Writes to stdout, a file (appended), or nowhere; a write failure
 * never breaks traffic.
 */
import { createWriteStream, type WriteStream } from "node:fs";
import type { AccessLog, AccessLogEntry } from "../context.ts";

export class JsonAccessLog implements AccessLog {
  private readonly out: WriteStream | NodeJS.WriteStream | undefined;
  readonly enabled: boolean;

  /** `destination`: `-` for stdout, `off`, or a file path. */
  constructor(destination: string) {
    if (destination === "off") this.out = undefined;
    else if (destination === "-") this.out = process.stdout;
    else {
      const file = createWriteStream(destination, { flags: "a", mode: 0o640 });
      file.on("error", () => undefined);
      this.out = file;
    }
    this.enabled = this.out !== undefined;
  }

  log(entry: AccessLogEntry): void {
    if (this.out === undefined) return;
    const line = JSON.stringify({ ...entry, response_flags: entry.response_flags === "" ? "-" : entry.response_flags });
    this.out.write(`${line}\n`);
  }

  close(): Promise<void> {
    const out = this.out;
    if (out === undefined || out === process.stdout || !("close" in out)) return Promise.resolve();
    return new Promise((resolve) => (out as WriteStream).end(() => resolve()));
  }
}
