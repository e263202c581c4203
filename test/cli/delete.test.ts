import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startControlWorker, type StartedWorker } from "../support/control-worker.ts";
import { createThrowawayCa, type ThrowawayCa } from "../support/throwaway-ca.ts";
import { callApi } from "../support/control-client.ts";
import { show, strait, type CliRun } from "./support/run-cli.ts";

const fixtures = "test/cli/fixtures";
let ca: ThrowawayCa;
let worker: StartedWorker;

before(async () => {
  ca = await createThrowawayCa();
  worker = await startControlWorker({ vars: ca.vars });
});

after(async () => {
  await worker?.dispose();
});

function cli(args: string[], o: { token?: string; stdin?: string } = {}): Promise<CliRun> {
  return strait(args, { env: { STRAIT_SERVER: worker.url.href, STRAIT_TOKEN: o.token ?? ca.adminToken }, ...(o.stdin === undefined ? {} : { stdin: o.stdin }) });
}

interface RevisionList {
  revisions: { id: number; operation: string }[];
}

async function revisions(): Promise<RevisionList["revisions"]> {
  const r = await callApi<RevisionList>(worker, "/v1/revisions?limit=100", { token: ca.adminToken });
  assert.equal(r.status, 200, r.text);
  return r.body.revisions;
}

async function stored(kind: string): Promise<string[]> {
  const r = await cli(["get", kind, "-A", "-o", "json"]);
  assert.equal(r.code, 0, show(r));
  return (JSON.parse(r.stdout) as { items: { metadata: { name: string } }[] }).items.map((i) => i.metadata.name).sort();
}

const missingDr = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: never-created
  namespace: default
spec:
  host: nowhere
`;

test("delete -f with one resource that does not exist deletes nothing, names the file and document, and adds no revision", async () => {
  const applied = await cli(["apply", "-f", `${fixtures}/bookinfo`]);
  assert.equal(applied.code, 0, show(applied));
  const before = await revisions();

  // Two existing resources, then one that was never created: all or nothing.
  const r = await cli(["delete", "-f", `${fixtures}/bookinfo/2-destination-rule.yaml`, "-f", `${fixtures}/bookinfo/3-virtual-service.yaml`, "-f", "-"], { stdin: missingDr });
  assert.equal(r.code, 1, show(r));
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /^error: <stdin> document 0: metadata\.name: destinationrules\.networking\.istio\.io "never-created" not found in namespace default; nothing was deleted/m);
  assert.deepEqual(await stored("dr"), ["reviews"], "the existing DestinationRule is still there");
  assert.deepEqual(await stored("vs"), ["reviews"], "the existing VirtualService is still there");
  assert.deepEqual(await revisions(), before, "no revision was recorded");

  const dry = await cli(["delete", "--dry-run", "-f", `${fixtures}/bookinfo`]);
  assert.equal(dry.code, 0, show(dry));
  assert.match(dry.stdout, /^virtualservice\.networking\.istio\.io "reviews" deleted \(server dry run\)$/m);
  assert.deepEqual(await revisions(), before, "a dry run records nothing");
  assert.deepEqual(await stored("se"), ["reviews"]);
});

test("delete -f of several resources lands exactly one revision holding every delete", async () => {
  const before = await revisions();
  const r = await cli(["delete", "-f", `${fixtures}/bookinfo`]);
  assert.equal(r.code, 0, show(r));
  assert.equal(
    r.stdout,
    [
      'serviceentry.networking.istio.io "reviews" deleted',
      'workloadentry.networking.istio.io "reviews-v1" deleted',
      'workloadentry.networking.istio.io "reviews-v2" deleted',
      'destinationrule.networking.istio.io "reviews" deleted',
      'virtualservice.networking.istio.io "reviews" deleted',
      "",
    ].join("\n"),
  );
  const afterList = await revisions();
  assert.equal(afterList.length, before.length + 1, "exactly one new revision");
  const newest = afterList[0]!;
  assert.equal(newest.operation, "delete");
  const detail = await callApi<{ changes: unknown[] }>(worker, `/v1/revisions/${newest.id}`, { token: ca.adminToken });
  assert.equal(detail.status, 200, detail.text);
  assert.equal(detail.body.changes.length, 5, detail.text);
  for (const kind of ["se", "we", "dr", "vs"]) assert.deepEqual(await stored(kind), [], kind);

  // Nothing left: a second delete fails (404, exit 1) unless told to ignore what is missing.
  const again = await cli(["delete", "-f", `${fixtures}/bookinfo`]);
  assert.equal(again.code, 1, show(again));
  assert.match(again.stderr, /^error: .*not found in namespace default \(and 4 more\); nothing was deleted/m);
  const ignored = await cli(["delete", "--ignore-not-found", "-f", `${fixtures}/bookinfo`]);
  assert.equal(ignored.code, 0, show(ignored));
  assert.match(ignored.stdout, /^virtualservice\.networking\.istio\.io "reviews" not found \(ignored\)$/m);
  assert.equal((await revisions()).length, afterList.length, "deleting nothing records no revision");
});

test("delete KIND NAME: not found exits 1 unless --ignore-not-found; --dry-run deletes nothing", async () => {
  const applied = await cli(["apply", "-f", `${fixtures}/bookinfo/2-destination-rule.yaml`]);
  assert.equal(applied.code, 0, show(applied));
  const dry = await cli(["delete", "destinationrules.networking.istio.io", "reviews", "--dry-run"]);
  assert.equal(dry.code, 0, show(dry));
  assert.equal(dry.stdout, 'destinationrule.networking.istio.io "reviews" deleted (server dry run)\n');
  assert.deepEqual(await stored("dr"), ["reviews"]);
  const del = await cli(["delete", "dr", "reviews"]);
  assert.equal(del.code, 0, show(del));
  assert.deepEqual(await stored("dr"), []);
  const missing = await cli(["delete", "dr", "reviews"]);
  assert.equal(missing.code, 1, show(missing));
  assert.equal(missing.stderr, 'error: destinationrules.networking.istio.io "reviews" not found in namespace default; nothing was deleted (ERR_NOT_FOUND)\n');
  const ignored = await cli(["delete", "dr", "reviews", "--ignore-not-found"]);
  assert.equal(ignored.code, 0, show(ignored));
});

test("POST /v1/delete checks a scoped token against every namespace named, before deleting anything", async () => {
  const twoNamespaces = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: a, namespace: team-a}
spec: {host: a}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: b, namespace: team-b}
spec: {host: b}
`;
  const applied = await cli(["apply", "-f", "-"], { stdin: twoNamespaces });
  assert.equal(applied.code, 0, show(applied));
  const t = await cli(["token", "create", "--subject", "team-a", "-n", "team-a", "--access", "write"]);
  assert.equal(t.code, 0, show(t));
  const token = t.stdout.trim();
  const refused = await callApi<{ error: { code: string; message: string } }>(worker, "/v1/delete", { token, body: twoNamespaces, contentType: "application/yaml" });
  assert.equal(refused.status, 403, refused.text);
  assert.match(refused.body.error.message, /team-b/);
  assert.deepEqual(await stored("dr"), ["a", "b"], "nothing deleted");

  const readOnly = await cli(["token", "create", "--subject", "viewer", "-n", "team-a", "--access", "read"]);
  const dry = await callApi<{ results: { action: string }[] }>(worker, "/v1/delete?dryRun=true", { token: readOnly.stdout.trim(), body: twoNamespaces.split("---\n")[0]!, contentType: "application/yaml" });
  assert.equal(dry.status, 200, dry.text);
  assert.deepEqual(dry.body.results.map((r) => r.action), ["deleted"]);

  const own = await callApi<{ revision: number }>(worker, "/v1/delete", { token, body: twoNamespaces.split("---\n")[0]!, contentType: "application/yaml" });
  assert.equal(own.status, 200, own.text);
  assert.deepEqual(await stored("dr"), ["b"]);

  const bad = await callApi<{ error: { field: string } }>(worker, "/v1/delete?ignoreNotFound=maybe", { token, body: twoNamespaces, contentType: "application/yaml" });
  assert.equal(bad.status, 400, bad.text);
  assert.equal(bad.body.error.field, "ignoreNotFound");
  const unknownKind = await callApi<{ error: { field: string } }>(worker, "/v1/delete", { token: ca.adminToken, json: { apiVersion: "v1", kind: "Pod", metadata: { name: "p" } } });
  assert.equal(unknownKind.status, 400, unknownKind.text);
  assert.equal(unknownKind.body.error.field, "documents[0].kind");
});
