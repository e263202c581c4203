// The state directory: atomic JSON writes, 0600 for secrets in a 0700 directory, serialized writes,
// and a damaged or missing file read as "nothing" instead of a crash.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StateStore } from "../../src/node-proxy/config/state-store.ts";

describe("state store", () => {
  test("writes atomically with the right modes and leaves no temp files", async () => {
    const root = await mkdtemp(join(tmpdir(), "strait-state-"));
    try {
      const store = new StateStore(join(root, "state"));
      await Promise.all(Array.from({ length: 20 }, (_, i) => store.write("identity.json", { i })));
      await store.write("snapshot.json", { head: 1 });
      assert.deepEqual(await store.read("identity.json"), { i: 19 }, "the last write wins");
      assert.equal((await stat(join(root, "state", "identity.json"))).mode & 0o777, 0o600);
      assert.equal((await stat(join(root, "state", "snapshot.json"))).mode & 0o777, 0o644);
      assert.equal((await stat(join(root, "state"))).mode & 0o777, 0o700);
      assert.deepEqual((await readdir(join(root, "state"))).sort(), ["identity.json", "snapshot.json"]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  test("a missing or damaged file reads as undefined", async () => {
    const root = await mkdtemp(join(tmpdir(), "strait-state-"));
    try {
      const store = new StateStore(root);
      assert.equal(await store.read("bundle.json"), undefined);
      await writeFile(join(root, "bundle.json"), "{ half a docu");
      assert.equal(await store.read("bundle.json"), undefined);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
