import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseDocuments } from "../../../src/core/config/parse-documents.ts";
import { validateResource } from "../../../src/core/config/validate.ts";

/** istio/istio pkg/config/validation/testdata/crds: Istio's own accept/refuse examples per kind. */
const DIR = join(import.meta.dirname, "../../fixtures/istio/crds");
const files = readdirSync(DIR).filter((f) => f.endsWith(".yaml")).sort();

test("Istio's CRD test data covers every kind with both valid and invalid examples", () => {
  const kinds = ["authz", "destinationrule", "peerauth", "reqauth", "serviceentry", "workloadentry"];
  assert.deepEqual(files, kinds.flatMap((k) => [`${k}-invalid.yaml`, `${k}-valid.yaml`]));
});

for (const file of files) {
  const docs = parseDocuments(readFileSync(join(DIR, file), "utf8"), file) as Record<string, unknown>[];
  const valid = file.endsWith("-valid.yaml");
  docs.forEach((raw, i) => {
    const { _err: expected, ...doc } = raw;
    const name = (doc.metadata as { name?: string } | undefined)?.name ?? `#${i}`;
    test(`${file} ${name}: ${valid ? "accepted" : `refused (Istio: ${String(expected)})`}`, () => {
      const r = validateResource(doc, { defaultNamespace: "default" });
      if (valid) {
        assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
        assert.deepEqual(r.resource.spec, doc.spec, "spec kept unchanged");
      } else {
        assert.equal(r.ok, false, `Istio refuses it: ${String(expected)}`);
        if (!r.ok) assert.ok(r.errors.every((e) => e.path === "" || e.path.startsWith("spec") || e.path.startsWith("metadata")), JSON.stringify(r.errors));
      }
    });
  });
}
