import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { show, strait } from "./support/run-cli.ts";

const fixtures = "test/cli/fixtures";

test("validate accepts a directory of valid Istio config and names every document", async () => {
  const r = await strait(["validate", "-f", `${fixtures}/bookinfo`]);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /^test\/cli\/fixtures\/bookinfo\/1-reviews-service\.yaml document 0 \(ServiceEntry default\/reviews\) is valid$/m);
  assert.match(r.stdout, /^test\/cli\/fixtures\/bookinfo\/1-reviews-service\.yaml document 2 \(WorkloadEntry default\/reviews-v2\) is valid$/m);
  assert.match(r.stdout, /^test\/cli\/fixtures\/bookinfo\/3-virtual-service\.yaml document 0 \(VirtualService default\/reviews\) is valid$/m);
  assert.match(r.stdout, /✔ 5 document\(s\) in 3 file\(s\) are valid/);
  assert.doesNotMatch(r.stdout, /Error/);
});

test("validate reports each error with file, document index, kind/name and field path, and exits 1", async () => {
  const r = await strait(["validate", "-f", `${fixtures}/invalid.yaml`]);
  assert.equal(r.code, 1, show(r));
  assert.match(r.stdout, /^test\/cli\/fixtures\/invalid\.yaml document 0 \(VirtualService default\/ratings\) is valid$/m);
  assert.match(
    r.stdout,
    /^Error: test\/cli\/fixtures\/invalid\.yaml document 1 \(VirtualService shop\/reviews\): spec\.http\[0\]\.route\[0\]\.weight: must be >= 0/m,
  );
  assert.match(r.stdout, /^Error: test\/cli\/fixtures\/invalid\.yaml document 2 \(DestinationRule default\/no-host\): spec\.host: /m);
  assert.match(r.stdout, /✘ 2 of 3 document\(s\) in 1 file\(s\) are invalid/);
});

test("validate reports a YAML syntax error with the file, document and line, and keeps checking other files", async () => {
  const r = await strait(["v", "-f", `${fixtures}/broken.yaml`, "-f", `${fixtures}/bookinfo/2-destination-rule.yaml`]);
  assert.equal(r.code, 1, show(r));
  assert.match(r.stdout, /^Error: test\/cli\/fixtures\/broken\.yaml: document 1 \(line \d+/m);
  assert.match(r.stdout, /2-destination-rule\.yaml document 0 \(DestinationRule default\/reviews\) is valid/);
});

test("validate reads stdin with -f - and gives structured results with -o json", async () => {
  const stdin = await readFile(`${fixtures}/invalid.yaml`, "utf8");
  const r = await strait(["validate", "-f", "-", "-o", "json"], { stdin });
  assert.equal(r.code, 1, show(r));
  const out = JSON.parse(r.stdout) as { valid: boolean; documents: { file: string; document: number; valid: boolean; resource: { kind: string; namespace: string; name: string }; errors: { path: string; message: string }[] }[] };
  assert.equal(out.valid, false);
  assert.deepEqual(out.documents.map((d) => [d.file, d.document, d.valid]), [["<stdin>", 0, true], ["<stdin>", 1, false], ["<stdin>", 2, false]]);
  assert.deepEqual(out.documents[1]!.resource, { kind: "VirtualService", namespace: "shop", name: "reviews" });
  assert.equal(out.documents[1]!.errors[0]!.path, "spec.http[0].route[0].weight");
  assert.equal(out.documents[2]!.errors[0]!.path, "spec.host");

  const ok = await strait(["validate", "-f", "-", "-n", "bookinfo"], { stdin: await readFile(`${fixtures}/bookinfo/2-destination-rule.yaml`, "utf8") });
  assert.equal(ok.code, 0, show(ok));
  assert.match(ok.stdout, /<stdin> document 0 \(DestinationRule default\/reviews\) is valid/);
});

test("validate prints warnings for deprecated-but-accepted fields and still exits 0", async () => {
  const stdin = [
    "apiVersion: networking.istio.io/v1alpha3",
    "kind: DestinationRule",
    "metadata:",
    "  name: ratings",
    "spec:",
    "  host: ratings",
    "  trafficPolicy:",
    "    loadBalancer:",
    "      simple: LEAST_CONN",
    "",
  ].join("\n");
  const r = await strait(["validate", "-f", "-"], { stdin });
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /^Warning: <stdin> document 0 \(DestinationRule default\/ratings\): spec\.trafficPolicy\.loadBalancer\.simple: deprecated: LEAST_CONN/m);
  assert.match(r.stdout, /^<stdin> document 0 \(DestinationRule default\/ratings\) is valid$/m);
});

test("validate refuses kinds it does not know and warns about files with no documents", async () => {
  const stdin = "# a comment only\n---\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec: {}\n";
  const r = await strait(["validate", "-f", "-"], { stdin });
  assert.equal(r.code, 1, show(r));
  assert.match(r.stdout, /^Error: <stdin> document 0 \(Deployment default\/web\): kind: unsupported kind "Deployment"/m);

  const empty = await strait(["validate", "-f", "-", "-f", `${fixtures}/bookinfo/2-destination-rule.yaml`], { stdin: "# nothing here\n---\n" });
  assert.equal(empty.code, 0, show(empty));
  assert.match(empty.stdout, /^Warning: <stdin>: no documents$/m);
  assert.match(empty.stdout, /✔ 1 document\(s\) in 2 file\(s\) are valid/);
});

test("validate -f DIR reads only the top level unless -R is given", async () => {
  const flat = await strait(["validate", "-f", fixtures, "-o", "json"]);
  assert.equal(flat.code, 1, show(flat));
  const flatFiles = new Set((JSON.parse(flat.stdout) as { documents: { file: string }[] }).documents.map((d) => d.file));
  assert.ok(![...flatFiles].some((f) => f.includes("bookinfo")), [...flatFiles].join(", "));
  assert.ok(flatFiles.has(`${fixtures}/invalid.yaml`));

  const deep = await strait(["validate", "-R", "-f", fixtures, "-o", "json"]);
  assert.equal(deep.code, 1, show(deep));
  const deepFiles = new Set((JSON.parse(deep.stdout) as { documents: { file: string }[] }).documents.map((d) => d.file));
  assert.ok(deepFiles.has(`${fixtures}/bookinfo/3-virtual-service.yaml`), [...deepFiles].join(", "));
});

test("validate accepts Istio's own valid examples (CRD test data, Sidecar docs) and prints Istio's warnings", async () => {
  const files = ["serviceentry", "workloadentry", "reqauth", "authz", "destinationrule", "peerauth"].flatMap((k) => ["-f", `test/fixtures/istio/crds/${k}-valid.yaml`]);
  const r = await strait(["validate", ...files, "-f", "test/fixtures/istio/sidecar-examples.yaml"]);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /^Warning: test\/fixtures\/istio\/crds\/serviceentry-valid\.yaml document 3 \(ServiceEntry default\/partial-wildcard\): spec\.hosts\[0\]: partial wildcard "\*x" not allowed$/m);
  assert.match(r.stdout, /\(Sidecar prod-us1\/no-ip-tables\) is valid$/m);
  assert.doesNotMatch(r.stdout, /^Error/m);
});

test("validate refuses what Istio refuses: a unix socket directory, a claim header with an underscore, a Sidecar short egress host", async () => {
  const stdin = [
    "apiVersion: networking.istio.io/v1\nkind: WorkloadEntry\nmetadata: {name: uds-dir, namespace: shop}\nspec: {address: \"unix:///var/run/\"}",
    "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: jwt, namespace: shop}\nspec:\n  jwtRules:\n  - issuer: https://issuer.example.com\n    outputClaimToHeaders: [{header: x_user, claim: sub}]",
    "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: default, namespace: shop}\nspec:\n  egress: [{hosts: [\"shop/reviews\"]}]",
  ].join("\n---\n");
  const r = await strait(["validate", "-f", "-"], { stdin });
  assert.equal(r.code, 1, show(r));
  assert.match(r.stdout, /^Error: <stdin> document 0 \(WorkloadEntry shop\/uds-dir\): spec\.address: \/var\/run\/ is not an absolute path to a file/m);
  assert.match(r.stdout, /^Error: <stdin> document 1 \(RequestAuthentication shop\/jwt\): spec\.jwtRules\[0\]\.outputClaimToHeaders\[0\]\.header: header name x_user is not a valid header name/m);
  assert.match(r.stdout, /^Error: <stdin> document 2 \(Sidecar shop\/default\): spec\.egress\[0\]\.hosts\[0\]: short names \(non FQDN\) are not allowed/m);
  assert.match(r.stdout, /✘ 3 of 3 document\(s\) in 1 file\(s\) are invalid/);
});
