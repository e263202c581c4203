/**
 * The openssl CLI as the identity tests use it: run it, hand it PEM files from a
 * scratch dir, and read extensions out of `openssl x509 -text`.
 */
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Runs `openssl <args>` and resolves to its stdout; rejects when openssl fails. */
export async function openssl(...args: string[]): Promise<string> {
  const { stdout } = await run("openssl", args);
  return stdout;
}

/** Writes `text` to `dir/name` and returns the path, for openssl's `-in`. */
export async function writeInDir(dir: string, name: string, text: string): Promise<string> {
  const p = join(dir, name);
  await writeFile(p, text);
  return p;
}

/** The text after an extension heading in `openssl x509 -text`, e.g. "critical" and its value line. */
export function extension(text: string, heading: string): { critical: boolean; value: string } | undefined {
  const lines = text.split("\n");
  const i = lines.findIndex((l) => l.trim().startsWith(`${heading}:`));
  if (i === -1) return undefined;
  return { critical: (lines[i] ?? "").includes("critical"), value: (lines[i + 1] ?? "").trim() };
}
