import assert from "node:assert/strict";
import { parseDocuments } from "../../../src/core/config/parse-documents.ts";
import { validateResource } from "../../../src/core/config/validate.ts";
import type { AnyResource } from "../../../src/core/config/resource.ts";

/** Parses YAML and validates every document; fails the test on an invalid one. */
export function resources(yaml: string): AnyResource[] {
  return parseDocuments(yaml).map((doc, i) => {
    const r = validateResource(doc);
    assert.ok(r.ok, `document ${i} is valid: ${r.ok ? "" : JSON.stringify(r.errors)}`);
    return r.resource;
  });
}
