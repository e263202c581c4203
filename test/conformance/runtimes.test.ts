/**
 * One conformance suite, many runtimes: the pure core (SPIFFE IDs, X.509-SVIDs, JWT-SVIDs,
 * the SPIFFE bundle, the config model over Istio's examples) must give identical results on
 * Node, inside workerd (a bare worker, no nodejs_compat) and on Deno.
 */
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { ManualClock } from "../../src/core/clock.ts";
import { projectRoot } from "../support/control-worker.ts";
import { createThrowawayCa, opensslCsr } from "../support/throwaway-ca.ts";
import { runInWorkerd, runOnDeno } from "../support/runtimes.ts";
import { runConformance, type ConformanceInput } from "./suite.ts";

let input: ConformanceInput;

let onNode: Record<string, unknown>;

before(async () => {
  // Every certificate of the run is built with the suite's own fixed clock: the result never depends on today's date.
  const now = Date.parse("2026-11-22T12:00:00Z");
  const ca = await createThrowawayCa({ clock: new ManualClock(now) });
  const fixtures: Record<string, string> = {};
  const dir = join(projectRoot, "test/fixtures/istio");
  for (const f of (await readdir(dir)).filter((n) => n.endsWith(".yaml"))) fixtures[`istio/${f}`] = await readFile(join(dir, f), "utf8");
  fixtures["samples/bookinfo.yaml"] = await readFile(join(projectRoot, "deploy/samples/bookinfo.yaml"), "utf8");
  input = {
    now,
    root: ca.root,
    intermediate: ca.intermediate,
    jwtSigningKeyPem: ca.jwtSigningKeyPem,
    csrPem: await opensslCsr(),
    mismatchedCsrPem: await opensslCsr({ uris: ["spiffe://strait.local/ns/shop/sa/someone-else"] }),
    fixtures,
  };
  // Round-trip through JSON so every runtime compares the same shape (Dates as strings, no undefined).
  onNode = JSON.parse(JSON.stringify(await runConformance(input))) as Record<string, unknown>;
});

test("the suite itself proves something on Node", () => {
  const x509 = onNode.x509Svid as { ok: boolean; value: Array<{ spiffeId: string; isCa: boolean }> };
  assert.equal(x509.ok, true);
  assert.equal(x509.value[0]?.spiffeId, "spiffe://strait.local/ns/shop/sa/reviews");
  assert.equal(x509.value[1]?.isCa, true, "the chain carries the intermediate");
  assert.deepEqual((onNode.x509SvidMismatch as { code: string }).code, "ERR_CSR_IDENTITY_MISMATCH");
  assert.equal((onNode.jwtSvid as { ok: boolean }).ok, true);
  assert.equal((onNode.jwtSvidWrongAudience as { code: string }).code, "ERR_JWT_SVID_INVALID");
  assert.equal((onNode.jwtSvidExpired as { code: string }).code, "ERR_JWT_SVID_INVALID");
  assert.ok((onNode.spiffeIdValid as Array<{ ok: boolean }>).every((o) => o.ok));
  assert.ok((onNode.spiffeIdInvalid as Array<{ ok: boolean }>).every((o) => !o.ok));
  const config = onNode.config as Record<string, { ok: boolean; value: { results: Array<{ ok: boolean }> } }>;
  assert.ok(Object.keys(config).length >= 10);
  for (const [name, o] of Object.entries(config)) {
    assert.ok(o.ok && o.value.results.every((r) => r.ok), `${name} is accepted`);
  }
});

test("workerd gives the same results as Node", async () => {
  assert.deepEqual(await runInWorkerd("test/conformance/workerd-entry.ts", input), onNode);
});

test("Deno gives the same results as Node", async () => {
  assert.deepEqual(await runOnDeno("test/conformance/deno-entry.ts", input), onNode);
});
