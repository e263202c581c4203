import { unstable_startWorker } from "wrangler";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";

/**
 * Starts a one-file worker module in real workerd (wrangler's unstable_startWorker)
 * on an OS-picked 127.0.0.1 port. Used to run runtime-free modules' suites in workerd.
 */
export async function startModuleWorker(source: string): Promise<{ fetch(path: string, init?: RequestInit): Promise<Response>; dispose(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "strait-workerd-"));
  await writeFile(join(dir, "entry.ts"), source);
  // A config file in the temp dir makes it the worker's project root: its bundles
  // (.wrangler/tmp) and state stay there, apart from every other worker's.
  const config = join(dir, "wrangler.json");
  await writeFile(config, JSON.stringify({ name: "strait-module-test", main: "entry.ts", compatibility_date: "2026-04-01" }));
  const worker = await unstable_startWorker({
    config,
    dev: { persist: join(dir, ".state"), inspector: false, watch: false, logLevel: "error", server: { hostname: "127.0.0.1", port: 0 } },
  });
  await worker.ready;
  const url = await worker.url;
  return {
    fetch: (path, init) => fetch(new URL(path, url), init),
    dispose: async () => {
      await worker.dispose();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
