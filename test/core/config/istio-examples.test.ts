import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseDocuments } from "../../../src/core/config/parse-documents.ts";
import { validateResource } from "../../../src/core/config/validate.ts";
import { findKind, storageApiVersion } from "../../../src/core/config/resource.ts";

const FIXTURES = join(import.meta.dirname, "../../fixtures/istio");

/** Deprecated fields the published examples use; each must be accepted with exactly this warning. */
const EXPECTED_WARNINGS: Record<string, string[]> = {
  "circuit-breaking.yaml#0": ["spec.trafficPolicy.outlierDetection.consecutiveErrors"],
  "mirroring.yaml#2": ["spec.http[0].mirrorPercent"],
  "fault-injection-legacy.yaml#0": ["spec.http[0].fault.delay.percent"],
  // Istio's webhook warns that a DENY rule with only HTTP attributes also denies TCP traffic.
  "authn-policy.yaml#8": ["spec.rules[0]"],
  "authn-policy.yaml#9": ["spec.rules[0]"],
  "authz-deny.yaml#0": ["spec.rules[0]"],
  "authz-deny.yaml#1": ["spec.rules[0]"],
};

const files = readdirSync(FIXTURES).filter((f) => f.endsWith(".yaml")).sort();

test("the fixture directory holds every documented example set", () => {
  assert.deepEqual(files, [
    "authn-policy.yaml",
    "authz-deny.yaml",
    "authz-http.yaml",
    "authz-jwt.yaml",
    "bookinfo-gateway.yaml",
    "circuit-breaking.yaml",
    "destination-rule-all.yaml",
    "fault-injection-legacy.yaml",
    "mirroring.yaml",
    "request-timeouts.yaml",
    "sidecar-examples.yaml",
    "virtual-service-all-v1.yaml",
    "virtual-service-ratings-test-abort.yaml",
    "virtual-service-ratings-test-delay.yaml",
    "virtual-service-reviews-50-v3.yaml",
    "virtual-service-reviews-80-20.yaml",
    "virtual-service-reviews-test-v2.yaml",
  ]);
});

for (const file of files) {
  test(`Istio example ${file}: every document is accepted unchanged`, () => {
    const docs = parseDocuments(readFileSync(join(FIXTURES, file), "utf8"), file);
    assert.ok(docs.length > 0);
    docs.forEach((doc, i) => {
      const d = doc as { apiVersion: string; kind: string; metadata: { name: string; namespace?: string }; spec: unknown };
      const result = validateResource(doc);
      assert.ok(result.ok, `${file}#${i}: ${JSON.stringify(!result.ok && result.errors)}`);
      const r = result.resource;
      assert.equal(r.kind, d.kind);
      assert.equal(r.metadata.name, d.metadata.name);
      assert.equal(r.metadata.namespace, d.metadata.namespace ?? "default");
      // apiVersion aliases (v1alpha3, v1beta1) normalise to the storage version.
      assert.ok(findKind(d.apiVersion, d.kind) !== undefined, `${d.apiVersion} serves ${d.kind}`);
      assert.equal(r.apiVersion, storageApiVersion(r.kind));
      assert.deepEqual(r.spec, d.spec, `${file}#${i}: spec must be kept unchanged`);
      assert.deepEqual(
        result.warnings.map((w) => w.path),
        EXPECTED_WARNINGS[`${file}#${i}`] ?? [],
        `${file}#${i}: warnings ${JSON.stringify(result.warnings)}`,
      );
    });
  });
}
