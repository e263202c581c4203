import { test } from "node:test";
import assert from "node:assert/strict";
import { show, strait } from "./support/run-cli.ts";

const fixtures = "test/cli/fixtures";

test("analyze -f on a consistent config finds no errors (exit 0)", async () => {
  const r = await strait(["analyze", "-f", `${fixtures}/bookinfo`]);
  assert.equal(r.code, 0, show(r));
  assert.equal(r.stdout, "✔ No validation issues found when analyzing all namespaces.\n");
  assert.equal(r.stderr, "");
});

test("analyze -f reports schema errors as IST0106 with the file and document, and exits 1", async () => {
  const r = await strait(["analyze", "-f", `${fixtures}/invalid.yaml`, "-o", "json"]);
  assert.equal(r.code, 1, show(r));
  const { findings } = JSON.parse(r.stdout) as { findings: { code: string; level: string; resource: { kind: string; namespace: string; name: string }; field?: string; message: string }[] };
  const schema = findings.filter((f) => f.code === "IST0106");
  assert.deepEqual(
    schema.map((f) => [f.level, f.resource.kind, `${f.resource.namespace}/${f.resource.name}`, f.field]),
    [
      ["Error", "DestinationRule", "default/no-host", "spec.host"],
      ["Error", "VirtualService", "shop/reviews", "spec.http[0].route[0].weight"],
    ],
  );
  assert.match(schema[1]!.message, /\(test\/cli\/fixtures\/invalid\.yaml document 1\)$/);

  const human = await strait(["analyze", "-f", `${fixtures}/invalid.yaml`]);
  assert.equal(human.code, 1, show(human));
  assert.match(human.stdout, /^Error \[IST0106\] \(VirtualService shop\/reviews\) Schema validation error: spec\.http\[0\]\.route\[0\]\.weight: must be >= 0/m);
  assert.match(human.stderr, /^Error: Analyzers found issues when analyzing all namespaces\.$/m);

  const scoped = await strait(["analyze", "-f", `${fixtures}/invalid.yaml`, "-n", "shop"]);
  assert.equal(scoped.code, 1, show(scoped));
  assert.doesNotMatch(scoped.stdout, /no-host/, "-n keeps only findings in that namespace");
});

test("analyze -f finds a subset no DestinationRule defines (IST0101) and exits 1", async () => {
  const r = await strait(["analyze", "-f", `${fixtures}/bookinfo`, "-f", `${fixtures}/dangling-subset.yaml`]);
  assert.equal(r.code, 1, show(r));
  assert.match(r.stdout, /^Error \[IST0101\] \(VirtualService default\/reviews-canary\) .*"reviews\.default\.svc\.cluster\.local\+v3".* \(at spec\.http\[0\]\.route\[0\]\.destination\.subset\)$/m);
  // Two VirtualServices for one host: reported on both (IST0109).
  assert.match(r.stdout, /^Error \[IST0109\] \(VirtualService default\/reviews\) /m);
  assert.match(r.stdout, /^Error \[IST0109\] \(VirtualService default\/reviews-canary\) /m);
  const lines = r.stdout.trim().split("\n");
  assert.ok(lines.every((l) => /^(Error|Warning|Info) \[IST\d{4}\] \(\w+ [\w.-]+\/[\w.-]+\) /.test(l)), r.stdout);
});
