import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { startControlWorker, type StartedWorker } from "../support/control-worker.ts";
import { createThrowawayCa, opensslCsr, type ThrowawayCa } from "../support/throwaway-ca.ts";
import { show, strait, type CliRun } from "./support/run-cli.ts";
import { callApi } from "../support/control-client.ts";

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

/** Runs the CLI against the test worker with the admin token unless another is given. */
function cli(args: string[], o: { token?: string; stdin?: string } = {}): Promise<CliRun> {
  return strait(args, { env: { STRAIT_SERVER: worker.url.href, STRAIT_TOKEN: o.token ?? ca.adminToken }, ...(o.stdin === undefined ? {} : { stdin: o.stdin }) });
}

async function getJson(args: string[]): Promise<Record<string, unknown>> {
  const r = await cli(["get", ...args, "-o", "json"]);
  assert.equal(r.code, 0, show(r));
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

function defaultSubset(vs: Record<string, unknown>): unknown {
  const spec = vs.spec as { http: { route: { destination: { subset?: string } }[] }[] };
  return spec.http[1]?.route[0]?.destination.subset;
}

test("apply prints kubectl-style results: created, then unchanged, then configured", async () => {
  const first = await cli(["apply", "-f", `${fixtures}/bookinfo`]);
  assert.equal(first.code, 0, show(first));
  assert.equal(
    first.stdout,
    [
      "serviceentry.networking.istio.io/reviews created",
      "workloadentry.networking.istio.io/reviews-v1 created",
      "workloadentry.networking.istio.io/reviews-v2 created",
      "destinationrule.networking.istio.io/reviews created",
      "virtualservice.networking.istio.io/reviews created",
      "",
    ].join("\n"),
  );

  const again = await cli(["apply", "-f", `${fixtures}/bookinfo`]);
  assert.equal(again.code, 0, show(again));
  assert.equal(again.stdout.split("\n").filter((l) => l.endsWith(" unchanged")).length, 5, show(again));

  const vs = await readFile(`${fixtures}/bookinfo/3-virtual-service.yaml`, "utf8");
  const changed = await cli(["apply", "-f", "-"], { stdin: vs.replace(/subset: v1/, "subset: v3") });
  assert.equal(changed.code, 0, show(changed));
  assert.equal(changed.stdout, "virtualservice.networking.istio.io/reviews configured\n");
  const back = await cli(["apply", "-f", "-", "-o", "json"], { stdin: vs });
  assert.equal(back.code, 0, show(back));
  const body = JSON.parse(back.stdout) as { revision: number; results: { kind: string; name: string; action: string }[] };
  assert.equal(typeof body.revision, "number");
  assert.deepEqual(body.results.map((r) => [r.kind, r.name, r.action]), [["VirtualService", "reviews", "configured"]]);
});

test("apply -n puts namespace-less documents in that namespace and refuses documents naming another (exit 2)", async () => {
  const dr = await readFile(`${fixtures}/bookinfo/2-destination-rule.yaml`, "utf8");
  const namespaceLess = dr.replace("  namespace: default\n", "");
  const r = await cli(["apply", "-n", "shop", "-f", "-"], { stdin: namespaceLess });
  assert.equal(r.code, 0, show(r));
  assert.equal(r.stdout, "destinationrule.networking.istio.io/reviews created\n");
  const stored = await getJson(["dr", "reviews", "-n", "shop"]);
  assert.equal((stored.metadata as { namespace: string }).namespace, "shop");

  const clash = await cli(["apply", "-n", "shop", "-f", `${fixtures}/bookinfo/2-destination-rule.yaml`]);
  assert.equal(clash.code, 2, show(clash));
  assert.match(clash.stderr, /2-destination-rule\.yaml document 0: metadata\.namespace is "default" but -n\/--namespace is "shop"/);

  const del = await cli(["delete", "dr", "reviews", "-n", "shop"]);
  assert.equal(del.code, 0, show(del));
});

test("get lists by kind, plural or short name with Istio's columns; -l, -A, -o wide/json/yaml", async () => {
  const vs = await cli(["get", "vs"]);
  assert.equal(vs.code, 0, show(vs));
  assert.match(vs.stdout, /^NAME\s+GATEWAYS\s+HOSTS\s+AGE$/m);
  assert.match(vs.stdout, /^reviews\s+<none>\s+reviews\s+\d+[sm]$/m);

  const plural = await cli(["get", "destinationrules"]);
  assert.equal(plural.code, 0, show(plural));
  assert.match(plural.stdout, /^NAME\s+HOST\s+AGE\nreviews\s+reviews\s+\d+[sm]\n$/);

  const selected = await cli(["get", "WorkloadEntry", "-l", "version=v2"]);
  assert.equal(selected.code, 0, show(selected));
  assert.match(selected.stdout, /^NAME\s+ADDRESS\s+AGE\nreviews-v2\s+10\.0\.0\.12\s+\d+[sm]\n$/);

  const wide = await cli(["get", "we", "-A", "-o", "wide"]);
  assert.equal(wide.code, 0, show(wide));
  assert.match(wide.stdout, /^NAMESPACE\s+NAME\s+ADDRESS\s+NODE\s+AGE\s+RESOURCE VERSION\s+LABELS$/m);
  assert.match(wide.stdout, /^default\s+reviews-v1\s+10\.0\.0\.11\s+edge-1\/node-a\s+\d+[sm]\s+\d+\s+\S*app=reviews/m);

  const one = await getJson(["dr", "reviews"]);
  assert.equal(one.kind, "DestinationRule");
  assert.equal((one.spec as { host: string }).host, "reviews");
  const listYaml = await cli(["get", "se", "-o", "yaml"]);
  assert.equal(listYaml.code, 0, show(listYaml));
  assert.match(listYaml.stdout, /^kind: ServiceEntryList$/m);
  assert.match(listYaml.stdout, /- reviews\.default\.svc\.cluster\.local/);

  const empty = await cli(["get", "gw", "-n", "elsewhere"]);
  assert.equal(empty.code, 0, show(empty));
  assert.equal(empty.stdout, "");
  assert.equal(empty.stderr, "No resources found in elsewhere namespace.\n");

  const badSelector = await cli(["get", "we", "-l", "version in (v1"]);
  assert.equal(badSelector.code, 1, show(badSelector));
  assert.match(badSelector.stderr, /^error: labelSelector: .*\(ERR_VALIDATION\)$/m);

  const missing = await cli(["get", "vs", "nope"]);
  assert.equal(missing.code, 1, show(missing));
  assert.match(missing.stderr, /^error: .*\(ERR_NOT_FOUND\)$/m);
});

test("describe shows metadata, spec and the analyzer's findings for one resource", async () => {
  const r = await cli(["describe", "vs", "reviews"]);
  assert.equal(r.code, 0, show(r));
  assert.match(r.stdout, /^Name: +reviews$/m);
  assert.match(r.stdout, /^Namespace: +default$/m);
  assert.match(r.stdout, /^Kind: +VirtualService \(virtualservice\.networking\.istio\.io\)$/m);
  assert.match(r.stdout, /^ {2}Resource Version: +\d+$/m);
  assert.match(r.stdout, /^Spec:\n {2}hosts:\n {4}- reviews$/m);
  assert.match(r.stdout, /^Findings:/m);
});

test("diff and apply --dry-run show changes without writing them; exit 0 when nothing would change, 1 otherwise", async () => {
  const same = await cli(["diff", "-f", `${fixtures}/bookinfo`]);
  assert.equal(same.code, 0, show(same));
  assert.equal(same.stdout, "no changes: 5 resource(s) unchanged\n");

  const r = await cli(["diff", "-f", `${fixtures}/reviews-v2-default.yaml`]);
  assert.equal(r.code, 1, show(r));
  assert.match(r.stdout, /^virtualservice\.networking\.istio\.io\/reviews \(namespace default\) would be configured$/m);
  assert.match(r.stdout, /^ {4}~ spec\.http\[1\]\.route\[0\]\.destination\.subset: "v1" -> "v2"$/m);
  // Only what the file says: no empty labels/annotations or other fields the user never wrote.
  assert.match(r.stdout, /^destinationrule\.networking\.istio\.io\/ratings \(namespace default\) would be created\n {4}\+ spec:\n {4}\+ {3}host: ratings$/m);
  assert.doesNotMatch(r.stdout, /metadata|labels|annotations/);

  // A resource saved with `get -o yaml` (server metadata and all) and edited: the diff is the edit alone.
  const saved = await cli(["get", "vs", "reviews", "-o", "yaml"]);
  assert.equal(saved.code, 0, show(saved));
  assert.match(saved.stdout, /resourceVersion/);
  const edited = await cli(["diff", "-f", "-"], { stdin: saved.stdout.replace("subset: v1", "subset: v3").replace(/^( {2}uid: ).*$/m, "$1edited-uid").replace(/^( {2}generation: ).*$/m, "$199") });
  assert.equal(edited.code, 1, show(edited));
  assert.equal(
    edited.stdout,
    "virtualservice.networking.istio.io/reviews (namespace default) would be configured\n    ~ spec.http[1].route[0].destination.subset: \"v1\" -> \"v3\"\n",
  );

  const dry = await cli(["apply", "--dry-run", "-f", `${fixtures}/reviews-v2-default.yaml`]);
  assert.equal(dry.code, 0, show(dry));
  assert.equal(
    dry.stdout,
    "virtualservice.networking.istio.io/reviews configured (server dry run)\ndestinationrule.networking.istio.io/ratings created (server dry run)\n",
  );

  assert.equal(defaultSubset(await getJson(["vs", "reviews"])), "v1", "diff and apply --dry-run wrote nothing");
  const notThere = await cli(["get", "dr", "ratings"]);
  assert.equal(notThere.code, 1, show(notThere));
});

test("apply with an invalid document writes nothing and names the file, document and field (exit 1)", async () => {
  const r = await cli(["apply", "-f", `${fixtures}/bookinfo/2-destination-rule.yaml`, "-f", `${fixtures}/invalid.yaml`]);
  assert.equal(r.code, 1, show(r));
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /^error: test\/cli\/fixtures\/invalid\.yaml document 1: spec\.http\[0\]\.route\[0\]\.weight: must be >= 0.*\(ERR_CONFIG_INVALID\)$/m);
  assert.match(r.stderr, /^ {2}- test\/cli\/fixtures\/invalid\.yaml document 2: spec\.host: /m);
  const ratings = await cli(["get", "vs", "ratings"]);
  assert.equal(ratings.code, 1, "the valid document of the same apply was not written either");

  const parse = await cli(["apply", "-f", `${fixtures}/broken.yaml`]);
  assert.equal(parse.code, 1, show(parse));
  assert.match(parse.stderr, /^error: test\/cli\/fixtures\/broken\.yaml: document 1 \(line \d+.*\(ERR_CONFIG_PARSE\)$/m);
});

test("history lists revisions newest first; history REV shows its changes; rollback restores and records a new revision", async () => {
  const list = await cli(["history"]);
  assert.equal(list.code, 0, show(list));
  assert.match(list.stdout, /^REVISION\s+TIME\s+ACTOR\s+OPERATION\s+CHANGES\s+MESSAGE$/m);
  const rows = list.stdout.trim().split("\n").slice(1).map((l) => l.split(/\s{3,}/));
  assert.ok(rows.length >= 3, show(list));
  const ids = rows.map((r) => Number(r[0]));
  assert.deepEqual(ids, [...ids].sort((a, b) => b - a), "newest first");
  assert.equal(rows[rows.length - 1]![2], "admin");
  const firstApply = ids[ids.length - 1]!;

  const one = await cli(["history", String(firstApply)]);
  assert.equal(one.code, 0, show(one));
  assert.match(one.stdout, new RegExp(`^Revision: +${firstApply}$`, "m"));
  assert.match(one.stdout, /^ {2}created virtualservice\.networking\.istio\.io default\/reviews$/m);
  assert.match(one.stdout, /^ {2}created serviceentry\.networking\.istio\.io default\/reviews$/m);

  await cli(["apply", "-f", `${fixtures}/reviews-v2-default.yaml`]);
  assert.equal(defaultSubset(await getJson(["vs", "reviews"])), "v2");
  const rb = await cli(["rollback", String(firstApply)]);
  assert.equal(rb.code, 0, show(rb));
  assert.match(rb.stdout, new RegExp(`^rolled back to revision ${firstApply} \\(new revision \\d+\\)$`, "m"));
  assert.equal(defaultSubset(await getJson(["vs", "reviews"])), "v1");
  const gone = await cli(["get", "dr", "ratings"]);
  assert.equal(gone.code, 1, "a resource created after the target revision is removed by the rollback");

  const after = await cli(["history", "--limit", "1", "-o", "json"]);
  assert.equal(after.code, 0, show(after));
  assert.match(after.stdout, /"operation": "rollback"/);

  const bad = await cli(["rollback", "999999"]);
  assert.equal(bad.code, 1, show(bad));
  assert.match(bad.stderr, /^error: .*\(ERR_\w+\)$/m);
});

test("delete by kind and name or by file; --ignore-not-found", async () => {
  const byName = await cli(["delete", "vs", "reviews"]);
  assert.equal(byName.code, 0, show(byName));
  assert.equal(byName.stdout, 'virtualservice.networking.istio.io "reviews" deleted\n');

  const again = await cli(["delete", "virtualservices", "reviews"]);
  assert.equal(again.code, 1, show(again));
  assert.match(again.stderr, /^error: .*\(ERR_NOT_FOUND\)$/m);
  const ignored = await cli(["delete", "vs", "reviews", "--ignore-not-found"]);
  assert.equal(ignored.code, 0, show(ignored));

  const byFile = await cli(["delete", "-f", `${fixtures}/bookinfo/2-destination-rule.yaml`]);
  assert.equal(byFile.code, 0, show(byFile));
  assert.equal(byFile.stdout, 'destinationrule.networking.istio.io "reviews" deleted\n');
  const dr = await cli(["get", "dr"]);
  assert.equal(dr.stderr, "No resources found in default namespace.\n");

  const both = await cli(["delete", "vs", "x", "-f", `${fixtures}/invalid.yaml`]);
  assert.equal(both.code, 2, show(both));
});

test("a read-only scoped token can get but not apply (exit 3 on 403)", async () => {
  const t = await cli(["token", "create", "--subject", "viewer", "-n", "default", "--access", "read"]);
  assert.equal(t.code, 0, show(t));
  const token = t.stdout.trim();
  const get = await cli(["get", "se"], { token });
  assert.equal(get.code, 0, show(get));
  assert.match(get.stdout, /^reviews\s/m);
  const apply = await cli(["apply", "-f", `${fixtures}/bookinfo/2-destination-rule.yaml`], { token });
  assert.equal(apply.code, 3, show(apply));
  assert.match(apply.stderr, /^error: .*\(ERR_FORBIDDEN\)$/m);
  const other = await cli(["get", "se", "-n", "shop"], { token });
  assert.equal(other.code, 3, show(other));
});

/** Attests a node with a join token made by the CLI; returns its JWT-SVID for the control API. */
async function attestNode(cluster: string, node: string): Promise<string> {
  const jt = await cli(["join-token", "create", "--cluster", cluster, "--node", node]);
  assert.equal(jt.code, 0, show(jt));
  const res = await callApi<{ jwtSvid: { token: string } }>(worker, "/v1/identity/attest", { json: { csr: await opensslCsr(), joinToken: jt.stdout.trim() } });
  assert.equal(res.status, 200, res.text);
  return res.body.jwtSvid.token;
}

test("proxy-status shows each attested node's applied version and sync state, like istioctl ps", async () => {
  const nodeA = await attestNode("edge-1", "node-a");
  await attestNode("edge-1", "node-c");
  // node-a hosts reviews-v1 (placement labels), so it has a snapshot; it reports having applied it.
  const snap = await worker.fetch("/v1/snapshots/nodes/edge-1/node-a", { headers: { authorization: `Bearer ${nodeA}` } });
  assert.equal(snap.status, 200, await snap.clone().text());
  const { version, hash } = (await snap.json()) as { version: number; hash: string };
  const report = await worker.fetch("/v1/proxies/status", {
    method: "POST",
    headers: { authorization: `Bearer ${nodeA}`, "content-type": "application/json" },
    body: JSON.stringify({ version, hash }),
  });
  assert.equal(report.status, 200, await report.clone().text());

  const r = await cli(["proxy-status"]);
  assert.equal(r.code, 0, show(r));
  // The snapshot version each proxy runs, next to the latest one published for it.
  assert.match(r.stdout, /^NAME\s+CLUSTER\s+VERSION\s+STATUS\s+LATEST$/m);
  assert.match(r.stdout, new RegExp(`^node-a\\s+edge-1\\s+${version}\\s+SYNCED\\s+${version}$`, "m"));
  assert.match(r.stdout, /^node-c\s+edge-1\s+<none>\s+NOT SENT\s+\S+$/m);

  const wide = await cli(["ps", "-o", "wide"]);
  assert.equal(wide.code, 0, show(wide));
  assert.match(wide.stdout, /^NAME\s+CLUSTER\s+VERSION\s+STATUS\s+LATEST\s+REPORTED\s+SPIFFE ID$/m);
  assert.match(wide.stdout, new RegExp(`^node-a\\s+edge-1\\s+${version}\\s+SYNCED\\s+${version}\\s+\\d+[sm] ago\\s+spiffe://strait\\.local/node/edge-1/node-a$`, "m"));

  const json = await cli(["ps", "-o", "json"]);
  assert.equal(json.code, 0, show(json));
  const body = JSON.parse(json.stdout) as { proxies: { spiffeId: string; status: string }[] };
  assert.deepEqual(body.proxies.map((p) => [p.spiffeId, p.status]), [
    ["spiffe://strait.local/node/edge-1/node-a", "SYNCED"],
    ["spiffe://strait.local/node/edge-1/node-c", "NOT SENT"],
  ]);
});

test("analyze without -f checks the stored config: a dangling subset is an IST0101 error (exit 1)", async () => {
  const applied = await cli(["apply", "-f", `${fixtures}/bookinfo`, "-f", `${fixtures}/dangling-subset.yaml`]);
  assert.equal(applied.code, 0, show(applied));
  const r = await cli(["analyze"]);
  assert.equal(r.code, 1, show(r));
  assert.match(r.stdout, /^Error \[IST0101\] \(VirtualService default\/reviews-canary\) .*v3/m);
  assert.match(r.stderr, /^Error: Analyzers found issues when analyzing all namespaces\.$/m);
  const json = await cli(["analyze", "-n", "default", "-o", "json"]);
  assert.equal(json.code, 1, show(json));
  const { findings } = JSON.parse(json.stdout) as { findings: { code: string; resource: { name: string } }[] };
  assert.ok(findings.some((f) => f.code === "IST0101" && f.resource.name === "reviews-canary"), json.stdout);

  const describe = await cli(["describe", "vs", "reviews-canary"]);
  assert.equal(describe.code, 0, show(describe));
  assert.match(describe.stdout, /^Findings:\n {2}Error \[IST0101\] \(VirtualService default\/reviews-canary\)/m);
});
