import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { analyze } from "../../../src/core/config/analyze.ts";
import { parseDocuments } from "../../../src/core/config/parse-documents.ts";
import type { AnyResource } from "../../../src/core/config/resource.ts";
import { validateResource } from "../../../src/core/config/validate.ts";

const CRDS = join(import.meta.dirname, "../../fixtures/istio/crds");
const NET = "networking.istio.io/v1";

test("a failing document keeps the parts that still parse: wrong-typed fields and broken list items are dropped", () => {
  const r = validateResource({
    apiVersion: NET,
    kind: "DestinationRule",
    metadata: { name: "reviews", namespace: "shop" },
    spec: {
      host: "reviews",
      trafficPolicy: { loadBalancer: { simple: 7 }, connectionPool: { tcp: { maxConnections: "many" } } },
      subsets: [{ name: "v1", labels: { version: "v1" } }, { labels: { version: "v2" } }, { name: "v3", labels: "version=v3" }],
    },
  });
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.deepEqual(r.errors.map((e) => e.path), [
    "spec.trafficPolicy.loadBalancer.simple",
    "spec.trafficPolicy.connectionPool.tcp.maxConnections",
    "spec.subsets[1].name",
    "spec.subsets[2].labels",
  ]);
  assert.ok(r.partial !== undefined);
  assert.deepEqual(r.partial.spec, {
    host: "reviews",
    trafficPolicy: { loadBalancer: {}, connectionPool: { tcp: {} } },
    subsets: [{ name: "v1", labels: { version: "v1" } }, { name: "v3" }],
  });
});

test("no partial when the document's own required fields or metadata are broken", () => {
  const noHost = validateResource({ apiVersion: NET, kind: "DestinationRule", metadata: { name: "a" }, spec: { subsets: [] } });
  assert.ok(!noHost.ok && noHost.partial === undefined);
  const badName = validateResource({ apiVersion: NET, kind: "DestinationRule", metadata: { name: "A_B" }, spec: { host: "a" } });
  assert.ok(!badName.ok && badName.partial === undefined);
});

test("analysis never throws on what remains of Istio's invalid examples", () => {
  const partials: AnyResource[] = [];
  for (const f of readdirSync(CRDS).filter((x) => x.endsWith("-invalid.yaml"))) {
    for (const raw of parseDocuments(readFileSync(join(CRDS, f), "utf8"), f) as Record<string, unknown>[]) {
      const { _err: _ignored, ...doc } = raw;
      const r = validateResource(doc);
      assert.equal(r.ok, false, `${f} ${JSON.stringify(doc).slice(0, 80)}`);
      if (!r.ok && r.partial !== undefined) {
        // What remains is structurally sound: it validates without type errors.
        const again = validateResource(r.partial);
        if (!again.ok) assert.ok(again.errors.every((e) => !/^must be (a string|a number|a boolean|a list|a mapping|an object) \(got|^required field is missing|^must not be null/.test(e.message)), JSON.stringify(again.errors));
        partials.push(r.partial);
      }
    }
  }
  assert.ok(partials.length > 10);
  const findings = analyze(partials);
  assert.ok(Array.isArray(findings));
});
