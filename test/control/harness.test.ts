import { test } from "node:test";
import assert from "node:assert/strict";
import { startControlWorker } from "../support/control-worker.ts";

test("control worker runs in workerd with local D1 migrated", async () => {
  const w = await startControlWorker({ vars: { ADMIN_TOKEN: "x" } });
  try {
    const r = await w.fetch("/healthz");
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { ok: true });
  } finally {
    await w.dispose();
  }
});
