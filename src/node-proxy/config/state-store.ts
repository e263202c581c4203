/**
 * The proxy's state directory: last-known-good snapshot, SVIDs and bundle, so a
 * restart during a control-plane outage comes back from disk.
 *
 * Every file is written atomically (temp file in the same directory, fsync,
 * rename, fsync of the directory), so a crash leaves the old or the new file,
 * never half of one. Files holding private keys or bearer tokens are created 0600
 * and the directory 0700.
 */
import { mkdir, open, readFile, rename, rm, chmod } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "node:crypto";

export type StateFile = "identity.json" | "bundle.json" | "snapshot.json";

/** Files that hold private keys or tokens. */
const SECRET: ReadonlySet<StateFile> = new Set(["identity.json"]);

export class StateStore {
  private ready: Promise<void> | undefined;
  private queue: Promise<void> = Promise.resolve();

  constructor(readonly dir: string) {}

  private ensureDir(): Promise<void> {
    this.ready ??= mkdir(this.dir, { recursive: true, mode: 0o700 }).then(() => chmod(this.dir, 0o700));
    return this.ready;
  }

  /** Writes `value` as JSON atomically. Writes are serialized, so a later one always wins. */
  write(file: StateFile, value: unknown): Promise<void> {
    const task = this.queue.then(() => this.writeNow(file, JSON.stringify(value)));
    this.queue = task.catch(() => undefined);
    return task;
  }

  private async writeNow(file: StateFile, text: string): Promise<void> {
    await this.ensureDir();
    const target = join(this.dir, file);
    const temp = join(this.dir, `.${file}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
    const mode = SECRET.has(file) ? 0o600 : 0o644;
    const handle = await open(temp, "wx", mode);
    try {
      await handle.writeFile(text, "utf8");
      await handle.chmod(mode);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await rename(temp, target);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
    const dir = await open(this.dir, "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }

  /** The parsed file, or undefined when it is missing or not JSON (a damaged file is ignored, never fatal). */
  async read(file: StateFile): Promise<unknown> {
    let text: string;
    try {
      text = await readFile(join(this.dir, file), "utf8");
    } catch {
      return undefined;
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return undefined;
    }
  }
}
