import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { canonicalJson } from "../../../src/core/snapshot/canonical-json.ts";
import { contentHash } from "../../../src/core/snapshot/content-hash.ts";

const cases: [string, unknown, string][] = [
  ["sorts keys at every level", { b: 1, a: { d: [3, { z: 1, y: 2 }], c: null } }, '{"a":{"c":null,"d":[3,{"y":2,"z":1}]},"b":1}'],
  ["drops undefined members", { a: undefined, b: "x" }, '{"b":"x"}'],
  ["keeps array order; undefined items become null", [3, undefined, 1], "[3,null,1]"],
  ["scalars", "é\u2028", JSON.stringify("é\u2028")],
];
for (const [name, input, expected] of cases) {
  test(`canonicalJson ${name}`, () => assert.equal(canonicalJson(input), expected));
}

test("canonicalJson refuses non-finite numbers (they have no JSON form)", () => {
  assert.throws(() => canonicalJson({ a: Number.NaN }), TypeError);
});

test("contentHash is the SHA-256 of the canonical text, independent of key order", async () => {
  const a = await contentHash({ x: 1, y: [1, 2] });
  const b = await contentHash({ y: [1, 2], x: 1 });
  assert.equal(a, b);
  assert.equal(a, createHash("sha256").update('{"x":1,"y":[1,2]}').digest("hex"));
  assert.notEqual(a, await contentHash({ x: 1, y: [2, 1] }));
});
