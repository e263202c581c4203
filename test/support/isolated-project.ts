/**
 * A private project directory per started worker. wrangler keeps its bundles under
 * `<projectRoot>/.wrangler/tmp` and its local state under the persist dir; two workers (or two
 * test runs) that share either can disturb each other ("Your worker restarted mid-request",
 * "Could not resolve .wrangler/tmp/bundle-*"). Each worker therefore gets a fresh temp dir that
 * links to the project's sources and holds its own copy of the wrangler config, so its project
 * root, build dir and state dir are its own.
 */
import { mkdtemp, readdir, rm, symlink, copyFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const projectRoot = resolve(import.meta.dirname, "..", "..");

/** Entries of the project that a worker's build never needs (or that are per-developer state). */
const SKIP = new Set([".wrangler", ".git", ".strait", ".dev.vars", ".tmp", "wrangler.toml"]);

export interface IsolatedProject {
  /** The temp project root; `config` is its wrangler.toml. */
  dir: string;
  config: string;
  /** Local state (D1, KV, Durable Objects) for this worker only. */
  persistDir: string;
  remove(): Promise<void>;
}

export async function createIsolatedProject(): Promise<IsolatedProject> {
  const dir = await mkdtemp(join(tmpdir(), "strait-worker-"));
  for (const name of await readdir(projectRoot)) {
    if (SKIP.has(name)) continue;
    await symlink(join(projectRoot, name), join(dir, name));
  }
  const config = join(dir, "wrangler.toml");
  await copyFile(join(projectRoot, "wrangler.toml"), config);
  return {
    dir,
    config,
    persistDir: join(dir, ".wrangler", "state"),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
