import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { startModuleWorker } from "../../support/workerd-module.ts";
import { analyze } from "../../../src/core/config/analyze.ts";
import { ConfigParseError } from "../../../src/core/config/errors.ts";
import { parseDocuments } from "../../../src/core/config/parse-documents.ts";
import type { AnyResource } from "../../../src/core/config/resource.ts";
import { validateResource } from "../../../src/core/config/validate.ts";

const FIXTURES = join(import.meta.dirname, "../../fixtures/istio");

let worker: Awaited<ReturnType<typeof startModuleWorker>>;

before(async () => {
  // No nodejs_compat: the config model must need nothing beyond Web APIs.
  worker = await startModuleWorker(`export { default } from ${JSON.stringify(join(import.meta.dirname, "workerd/config-model-worker.ts"))};`);
});

after(async () => {
  await worker?.dispose();
});

function inNode(text: string): unknown {
  const results = parseDocuments(text).map((d) => validateResource(d));
  const resources = results.flatMap((r): AnyResource[] => (r.ok ? [r.resource] : []));
  return { results, findings: analyze(resources) };
}

async function inWorkerd(text: string): Promise<{ status: number; body: unknown }> {
  const res = await worker.fetch("/", { method: "POST", body: text });
  return { status: res.status, body: await res.json() };
}

test("workerd and Node give identical validation and analysis for every Istio example", async () => {
  const all = readdirSync(FIXTURES).filter((f) => f.endsWith(".yaml")).sort();
  const combined = all.map((f) => readFileSync(join(FIXTURES, f), "utf8")).join("\n---\n");
  const res = await inWorkerd(combined);
  assert.equal(res.status, 200);
  const expected = inNode(combined) as { results: unknown[]; findings: unknown[] };
  assert.ok(expected.results.length > 30 && expected.findings.length > 0);
  assert.deepEqual(res.body, expected);
});

test("workerd and Node refuse the same invalid resource with the same field paths", async () => {
  const text = readFileSync(join(FIXTURES, "virtual-service-reviews-80-20.yaml"), "utf8").replace("weight: 20", "weight: -20").replace("subset: v1", "subset: v1_a");
  const res = await inWorkerd(text);
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, inNode(text));
  const results = (res.body as { results: { ok: boolean; errors?: { path: string }[] }[] }).results;
  assert.deepEqual(results[0]!.errors!.map((e) => e.path), ["spec.http[0].route[1].weight", "spec.http[0].route[0].destination.subset"]);
});

test("workerd reports YAML syntax errors with the document and line, like Node", async () => {
  const text = "a: 1\n---\nb: 2\nc: d: e\n";
  const res = await inWorkerd(text);
  assert.equal(res.status, 400);
  let nodeErr: ConfigParseError | undefined;
  try {
    parseDocuments(text);
  } catch (e) {
    if (e instanceof ConfigParseError) nodeErr = e;
  }
  assert.ok(nodeErr !== undefined);
  assert.deepEqual(res.body, { error: nodeErr.toJSON(), line: 4 });
});
