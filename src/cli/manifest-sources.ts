import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { UsageError } from "./cli-errors.ts";

/** One file (or stdin) given with `-f`, with its text. */
export interface ManifestSource {
  /** The path as the user named it, or `<stdin>`. */
  name: string;
  text: string;
}

const MANIFEST_EXTENSIONS = [".yaml", ".yml", ".json"];

/**
 * Expands `-f` arguments like kubectl: a file, a directory (its `.yaml`,
 * `.yml` and `.json` files, sorted; with `recursive` also subdirectories)
 * or `-` for stdin. A missing path is a usage error (exit 2).
 */
export async function readManifestSources(
  paths: readonly string[],
  o: { readStdin: () => Promise<string>; recursive?: boolean },
): Promise<ManifestSource[]> {
  if (paths.length === 0) throw new UsageError("-f: at least one file, directory or - (stdin) is required", { field: "-f" });
  const out: ManifestSource[] = [];
  for (const p of paths) {
    if (p === "-") {
      out.push({ name: "<stdin>", text: await o.readStdin() });
      continue;
    }
    const info = await stat(p).catch(() => undefined);
    if (info === undefined) throw new UsageError(`-f: the path ${JSON.stringify(p)} does not exist`, { field: "-f" });
    if (info.isDirectory()) {
      const files = await manifestFilesIn(p, o.recursive ?? false);
      if (files.length === 0) throw new UsageError(`-f: no .yaml, .yml or .json files in directory ${JSON.stringify(p)}`, { field: "-f" });
      for (const f of files) out.push({ name: f, text: await readFile(f, "utf8") });
    } else {
      out.push({ name: p, text: await readFile(p, "utf8") });
    }
  }
  return out;
}

async function manifestFilesIn(dir: string, recursive: boolean): Promise<string[]> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  const out: string[] = [];
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (recursive) out.push(...(await manifestFilesIn(p, true)));
    } else if (MANIFEST_EXTENSIONS.some((ext) => e.name.endsWith(ext))) {
      out.push(p);
    }
  }
  return out;
}

/** Reads all of stdin as UTF-8. */
export async function readProcessStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}
