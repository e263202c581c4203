import { test } from "node:test";
import assert from "node:assert/strict";
import { parseDocuments } from "../../../src/core/config/parse-documents.ts";
import { ConfigParseError, ConfigValidationError } from "../../../src/core/config/errors.ts";
import { PayloadTooLargeError, ValidationError } from "../../../src/core/errors.ts";

test("multi-document YAML: empty documents are skipped, order kept", () => {
  const text = "---\n# only a comment\n---\na: 1\n---\n\n---\nb: [x, y]\n...\n";
  assert.deepEqual(parseDocuments(text), [{ a: 1 }, { b: ["x", "y"] }]);
});

test("an empty text gives no documents", () => {
  assert.deepEqual(parseDocuments(""), []);
  assert.deepEqual(parseDocuments("\n# nothing\n"), []);
});

test("kind: List documents and top-level arrays are flattened", () => {
  const text = "apiVersion: v1\nkind: List\nitems:\n- {kind: A}\n- {kind: B}\n---\n- {kind: C}\n";
  assert.deepEqual(parseDocuments(text), [{ kind: "A" }, { kind: "B" }, { kind: "C" }]);
  assert.deepEqual(parseDocuments('{"kind":"VirtualServiceList","items":[{"kind":"VirtualService"}]}'), [{ kind: "VirtualService" }]);
});

test("JSON bodies parse as one document (or a list)", () => {
  assert.deepEqual(parseDocuments('{"kind":"Gateway","spec":{"servers":[]}}'), [{ kind: "Gateway", spec: { servers: [] } }]);
  assert.deepEqual(parseDocuments('[{"a":1},{"b":2}]'), [{ a: 1 }, { b: 2 }]);
});

function parseError(text: string, source?: string): ConfigParseError {
  try {
    parseDocuments(text, source);
  } catch (err) {
    assert.ok(err instanceof ConfigParseError, `expected ConfigParseError, got ${String(err)}`);
    return err;
  }
  assert.fail("expected a ConfigParseError");
}

test("a YAML syntax error names the document index and line", () => {
  const err = parseError("a: 1\n---\nb: 2\nc: d: e\n", "bookinfo.yaml");
  assert.ok(err instanceof ValidationError);
  assert.equal(err.code, "ERR_CONFIG_PARSE");
  assert.equal(err.category, "invalid");
  assert.equal(err.documentIndex, 1);
  assert.equal(err.field, "documents[1]");
  assert.equal(err.line, 4);
  assert.equal(err.message, "bookinfo.yaml: document 1 (line 4, column 4): Nested mappings are not allowed in compact mappings");
});

test("duplicate keys are refused", () => {
  const err = parseError("metadata:\n  name: a\n  name: b\n");
  assert.equal(err.documentIndex, 0);
  assert.equal(err.line, 3);
  assert.match(err.message, /unique|duplicate/i);
});

test("a scalar document is not a resource", () => {
  const err = parseError("a: 1\n---\njust a string\n");
  assert.equal(err.documentIndex, 1);
  assert.match(err.message, /expected a mapping/);
});

test("broken JSON is reported with its line", () => {
  const err = parseError('{\n  "kind": "Gateway",\n  "spec": {\n}');
  assert.equal(err.documentIndex, 0);
  assert.equal(typeof err.line, "number");
});

test("alias expansion is bounded (billion laughs): refused as too large before it is expanded", () => {
  const lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
  for (let i = 1; i < 10; i++) lines.push(`${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10).fill(`*${String.fromCharCode(96 + i)}`).join(", ")}]`);
  assert.throws(() => parseDocuments(lines.join("\n")), (err: unknown) => err instanceof PayloadTooLargeError && /alias/i.test(err.message));
});

test("a List without items is refused", () => {
  const err = parseError("kind: List\nitems: 3\n");
  assert.match(err.message, /items/);
});

test("ConfigValidationError carries every field error, prefixed", () => {
  const err = new ConfigValidationError(
    [
      { path: "spec.http[0].route[1].weight", message: "must be >= 0 (got -1)" },
      { path: "spec.hosts[0]", message: "must not be empty" },
    ],
    { prefix: "documents[2]" },
  );
  assert.ok(err instanceof ValidationError);
  assert.equal(err.code, "ERR_CONFIG_INVALID");
  assert.equal(err.field, "documents[2].spec.http[0].route[1].weight");
  assert.equal(err.message, "documents[2].spec.http[0].route[1].weight: must be >= 0 (got -1) (and 1 more)");
  assert.deepEqual(err.details, [
    { path: "documents[2].spec.http[0].route[1].weight", message: "must be >= 0 (got -1)" },
    { path: "documents[2].spec.hosts[0]", message: "must not be empty" },
  ]);
  assert.throws(() => new ConfigValidationError([]), TypeError);
});

test("YAML 1.1 tags that are not JSON data (!!set, !!omap, !!timestamp, !!binary) are refused naming the path, for the CLI as for the API", () => {
  const cases: [string, string][] = [
    ["kind: Namespace\nmetadata: {name: a, labels: !!set {app, tier}}\n", "documents[0].metadata.labels"],
    ["a: 1\n---\nkind: X\nspec: {order: !!omap [{a: 1}, {b: 2}]}\n", "documents[1].spec.order"],
    ["kind: X\nspec: {at: !!timestamp 2001-12-14}\n", "documents[0].spec.at"],
    ["kind: List\nitems:\n- {kind: X}\n- {kind: Y, data: !!binary aGVsbG8=}\n", "documents[1].data"],
  ];
  for (const [text, field] of cases) {
    assert.throws(
      () => parseDocuments(text),
      (err: unknown) => err instanceof ValidationError && err.field === field && /is not JSON data/.test(err.message),
      field,
    );
  }
  // Plain values with the same spellings stay strings.
  assert.deepEqual(parseDocuments("at: '2001-12-14'\nb: aGVsbG8=\n"), [{ at: "2001-12-14", b: "aGVsbG8=" }]);
});

test("a flow nested thousands deep is a parse error saying so (not the engine's stack overflow)", () => {
  for (const text of [`a: ${"[".repeat(20_000)}${"]".repeat(20_000)}`, `a: ${"{b: ".repeat(5_000)}1${"}".repeat(5_000)}`]) {
    const err = parseError(text);
    assert.match(err.message, /^document 0 \(line 1, column \d+\): nested too deeply$/);
  }
});
