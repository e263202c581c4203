import { test } from "node:test";
import assert from "node:assert/strict";
import { matchesSelector, parseLabelSelector } from "../../src/control/config/label-selector.ts";
import { diffFields } from "../../src/control/config/field-diff.ts";
import { ValidationError } from "../../src/core/errors.ts";

const labels = { app: "reviews", version: "v2", "strait.io/node": "n1" };
const table: [string, boolean][] = [
  ["", true],
  ["app=reviews", true],
  ["app==reviews", true],
  ["app=ratings", false],
  ["app!=ratings", true],
  ["missing!=x", true],
  ["app=reviews,version!=v2", false],
  ["version", true],
  ["!version", false],
  ["!missing", true],
  ["version in (v1, v2)", true],
  ["version in (v1)", false],
  ["version notin (v1)", true],
  ["missing notin (v1)", true],
  ["strait.io/node=n1", true],
  [" app = reviews , version in (v2) ", true],
  // An empty value is valid Kubernetes syntax and matches only an empty label value.
  ["app=", false],
];
for (const [selector, expected] of table) {
  test(`labelSelector "${selector}" -> ${expected}`, () => assert.equal(matchesSelector(parseLabelSelector(selector), labels), expected));
}

for (const bad of ["a b", "version in (v1", "=x", "app=re views", ",", "bad key!=1"]) {
  test(`labelSelector "${bad}" is refused naming the field`, () => {
    assert.throws(() => parseLabelSelector(bad), (e: unknown) => e instanceof ValidationError && e.field === "labelSelector");
  });
}

test("diffFields reports adds, removes and replaces with item paths", () => {
  assert.deepEqual(
    diffFields({ spec: { hosts: ["a"], http: [{ timeout: "1s", route: [{ weight: 80 }] }] } }, { spec: { hosts: ["a", "b"], http: [{ route: [{ weight: 50 }], retries: { attempts: 3 } }] } }),
    [
      { path: "spec.hosts", op: "replace", before: ["a"], after: ["a", "b"] },
      { path: "spec.http[0].retries", op: "add", after: { attempts: 3 } },
      { path: "spec.http[0].route[0].weight", op: "replace", before: 80, after: 50 },
      { path: "spec.http[0].timeout", op: "remove", before: "1s" },
    ],
  );
  assert.deepEqual(diffFields({ a: { b: 1, c: 2 } }, { a: { c: 2, b: 1 } }), []);
});
