/**
 * The committed D1 migrations must be exactly what drizzle-kit generates from schema/:
 * regenerating into a copy of migrations/ must find nothing to do.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { cp, mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { join, relative } from "node:path";
import { promisify } from "node:util";
import { projectRoot } from "./support/control-worker.ts";

const run = promisify(execFile);

test("migrations/ is in sync with schema/ (drizzle-kit generate finds no changes)", async () => {
  await mkdir(join(projectRoot, ".tmp"), { recursive: true });
  const dir = await mkdtemp(join(projectRoot, ".tmp", "migrations-"));
  try {
    const out = join(dir, "migrations");
    await cp(join(projectRoot, "migrations"), out, { recursive: true });
    const before = (await readdir(out)).sort();
    const { stdout } = await run(
      process.execPath,
      [join(projectRoot, "node_modules/drizzle-kit/bin.cjs"), "generate", "--dialect", "sqlite", "--schema", "./schema/index.ts", "--out", `./${relative(projectRoot, out)}`],
      { cwd: projectRoot },
    );
    assert.match(stdout, /No schema changes/);
    assert.deepEqual((await readdir(out)).sort(), before);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
