import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { startControlWorker, type StartedWorker } from "../support/control-worker.ts";
import { createThrowawayCa, type ThrowawayCa } from "../support/throwaway-ca.ts";
import { callApi } from "../support/control-client.ts";
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

test("analyze -f reads Kubernetes Service, Pod and Namespace objects as context, as istioctl analyze does", async () => {
  // The Service defines reviews.bookinfo.svc.cluster.local, so the route is found; its selector picks the
  // reviews Pods, so subsets v1/v2 select endpoints and v3 does not; the AuthorizationPolicy selects the Pods.
  const r = await strait(["analyze", "-f", `${fixtures}/kube-context`, "-o", "json"]);
  assert.equal(r.code, 0, show(r));
  const { findings } = JSON.parse(r.stdout) as { findings: { code: string; resource: { name: string }; field?: string; message: string }[] };
  assert.deepEqual(
    findings.map((f) => `${f.code} ${f.resource.name} ${f.field}`),
    ["IST0173 reviews spec.subsets[2]"],
  );
  assert.match(findings[0]!.message, /v3 .* reviews\.bookinfo\.svc\.cluster\.local/);

  // Without the Service and Pods there is no registry entry for the host and no workload for the policy.
  const bare = await strait(["analyze", "-f", `${fixtures}/kube-context/1-namespace.yaml`, "-f", `${fixtures}/kube-context/3-reviews-routing.yaml`]);
  assert.equal(bare.code, 1, show(bare));
  assert.match(bare.stdout, /^Error \[IST0101\] \(VirtualService bookinfo\/reviews\) Referenced host not found: "reviews\.bookinfo\.svc\.cluster\.local"/m);
  assert.match(bare.stdout, /^Warning \[IST0127\] \(AuthorizationPolicy bookinfo\/reviews-viewer\) /m);
});

test("analyze -f reports a schema failure (IST0106) and still analyzes the parts that parse", async () => {
  const r = await strait(["analyze", "-f", `${fixtures}/partially-invalid.yaml`, "-o", "json"]);
  assert.equal(r.code, 1, show(r));
  const { findings } = JSON.parse(r.stdout) as { findings: { code: string; resource: { kind: string; name: string }; field?: string }[] };
  assert.deepEqual(
    findings.map((f) => `${f.code} ${f.resource.kind}/${f.resource.name} ${f.field}`),
    [
      "IST0106 DestinationRule/reviews spec.trafficPolicy.loadBalancer.simple",
      "IST0106 DestinationRule/reviews spec.subsets[1].labels",
      "IST0106 VirtualService/reviews spec.http[0].route[1].weight",
    ],
    "the invalid DestinationRule's subsets v1 and v2 still resolve the VirtualService's subsets (no IST0101)",
  );
});

/** Kubernetes context objects are for `strait analyze -f` only: the control API refuses to store them. */
let ca: ThrowawayCa;
let worker: StartedWorker;

before(async () => {
  ca = await createThrowawayCa();
  worker = await startControlWorker({ vars: ca.vars });
});

after(async () => {
  await worker?.dispose();
});

test("the control API refuses Service, Pod and Namespace documents with a 400 naming the kind", async () => {
  const yaml = readFileSync("test/cli/fixtures/kube-context/2-reviews-service.yaml", "utf8");
  const r = await callApi<{ error: { code: string; message: string; field?: string } }>(worker, "/v1/apply", { body: yaml, contentType: "application/yaml", token: ca.adminToken });
  assert.equal(r.status, 400, r.text);
  assert.match(r.body.error.message, /Kubernetes Service objects are not stored by Strait.*analyze -f/);
  for (const kind of ["Pod", "Namespace"]) {
    const one = await callApi<{ error: { message: string } }>(worker, "/v1/apply", { json: { apiVersion: "v1", kind, metadata: { name: "x", namespace: "bookinfo" } }, token: ca.adminToken });
    assert.equal(one.status, 400, one.text);
    assert.match(one.body.error.message, new RegExp(`Kubernetes ${kind} objects are not stored`));
  }
  // Nothing was stored: the apply was all or nothing.
  const list = await callApi<{ items: unknown[] }>(worker, "/apis/networking.istio.io/v1/namespaces/bookinfo/destinationrules", { token: ca.adminToken });
  assert.equal(list.status, 200, list.text);
  assert.deepEqual(list.body.items, []);
});

test("a Sidecar is accepted and stored by the control API like the other networking kinds", async () => {
  const sidecar = { apiVersion: "networking.istio.io/v1beta1", kind: "Sidecar", metadata: { name: "default", namespace: "bookinfo" }, spec: { egress: [{ hosts: ["./*", "istio-system/*"] }] } };
  const created = await callApi<{ apiVersion: string; kind: string }>(worker, "/apis/networking.istio.io/v1/namespaces/bookinfo/sidecars", { json: sidecar, token: ca.adminToken });
  assert.equal(created.status, 201, created.text);
  assert.equal(created.body.apiVersion, "networking.istio.io/v1");
  const got = await callApi<{ spec: unknown }>(worker, "/apis/networking.istio.io/v1alpha3/namespaces/bookinfo/sidecars/default", { token: ca.adminToken });
  assert.equal(got.status, 200, got.text);
  assert.deepEqual(got.body.spec, sidecar.spec);
  const bad = await callApi<{ error: { message: string; field?: string } }>(worker, "/apis/networking.istio.io/v1/namespaces/bookinfo/sidecars", {
    json: { ...sidecar, metadata: { name: "bad", namespace: "bookinfo" }, spec: { egress: [{ hosts: ["reviews"] }] } },
    token: ca.adminToken,
  });
  assert.equal(bad.status, 400, bad.text);
  assert.match(bad.body.error.message, /spec\.egress\[0\]\.hosts\[0\]/);
});
