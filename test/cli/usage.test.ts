import { test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createServer } from "node:net";
import { promisify } from "node:util";
import { projectRoot } from "../support/control-worker.ts";
import { show, strait } from "./support/run-cli.ts";

/** A port nothing listens on: bind an ephemeral port, then close it. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === "object");
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return address.port;
}

test("strait --help lists the commands and documents the exit codes", async () => {
  const r = await strait(["--help"]);
  assert.equal(r.code, 0, show(r));
  for (const cmd of ["apply", "get", "describe", "delete", "validate", "analyze", "diff", "history", "rollback", "proxy-status", "token", "join-token", "svid"]) {
    assert.match(r.stdout, new RegExp(`^  ${cmd}\\b`, "m"), `help lists ${cmd}`);
  }
  assert.match(r.stdout, /Exit codes:/);
  assert.match(r.stdout, /^ {2}2 {2}usage error/m);
  assert.match(r.stdout, /^ {2}3 {2}cannot reach the control plane/m);
  assert.match(r.stdout, /STRAIT_SERVER/);
});

test("usage errors exit 2: unknown command, unknown flag, bad -o, missing required option", async () => {
  const cases: [string[], RegExp][] = [
    [["frobnicate"], /unknown command 'frobnicate'/],
    [["get", "vs", "--bogus"], /unknown option '--bogus'/],
    [["get", "vs", "-o", "xml"], /argument 'xml' is invalid.*json, yaml, wide/],
    [["validate"], /required option '-f, --filename <path\.\.\.>' not specified/],
    [["token", "create", "--subject", "ci", "-n", "default", "--access", "admin"], /argument 'admin' is invalid/],
    [["rollback"], /missing required argument 'revision'/],
  ];
  for (const [args, message] of cases) {
    const r = await strait(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${show(r)}`);
    assert.match(r.stderr, message, args.join(" "));
    assert.equal(r.stdout, "", args.join(" "));
  }
});

test("bad argument values exit 2 and name the flag, before any request is sent", async () => {
  const port = await closedPort();
  const server = `http://127.0.0.1:${port}`;
  const cases: [string[], RegExp][] = [
    [["get", "widgets"], /KIND: unknown resource type "widgets"\nknown: gateway \(gateways, gw\)/],
    [["join-token", "create", "--cluster", "c1", "--node", "n1", "--ttl", "ten minutes"], /--ttl: not a duration: "ten minutes"/],
    [["token", "create", "--subject", "ci", "-n", "default", "--access", "read", "--ttl", "0s"], /--ttl: must be greater than zero/],
    [["rollback", "abc"], /REVISION: must be a positive integer, got "abc"/],
    [["get", "vs", "reviews", "-A"], /NAME: a resource cannot be retrieved by name across all namespaces/],
    [["validate", "-f", "test/cli/fixtures/does-not-exist.yaml"], /-f: the path "test\/cli\/fixtures\/does-not-exist.yaml" does not exist/],
  ];
  for (const [args, message] of cases) {
    const r = await strait(["--server", server, ...args]);
    assert.equal(r.code, 2, `${args.join(" ")}: ${show(r)}`);
    assert.match(r.stderr, message, args.join(" "));
  }
  const badUrl = await strait(["--server", "ftp://example", "history"]);
  assert.equal(badUrl.code, 2, show(badUrl));
  assert.match(badUrl.stderr, /--server: must be an http:\/\/ or https:\/\/ URL/);
});

test("an unreachable control plane exits 3, names the URL and the setting it came from, and says how to fix it", async () => {
  const port = await closedPort();
  for (const args of [["get", "vs"], ["history"], ["proxy-status"], ["analyze"]]) {
    const r = await strait(args, { env: { STRAIT_SERVER: `http://127.0.0.1:${port}` } });
    assert.equal(r.code, 3, `${args.join(" ")}: ${show(r)}`);
    assert.match(r.stderr, new RegExp(`^error: cannot reach the control plane at http://127\\.0\\.0\\.1:${port} \\(from STRAIT_SERVER\\): .*ECONNREFUSED`), args.join(" "));
    assert.match(r.stderr, /^ {2}- is the control plane running\? `npm start` in the Strait clone starts one on http:\/\/127\.0\.0\.1:8787$/m);
    assert.match(r.stderr, /^ {2}- check STRAIT_SERVER \(now "http:\/\/127\.0\.0\.1:\d+\/"\); unset it for http:\/\/127\.0\.0\.1:8787, or pass --server$/m);
  }
  const flag = await strait(["--server", `http://127.0.0.1:${port}`, "get", "vs"]);
  assert.equal(flag.code, 3, show(flag));
  assert.match(flag.stderr, new RegExp(`^error: cannot reach the control plane at http://127\\.0\\.0\\.1:${port} \\(from --server\\): `));
  assert.match(flag.stderr, /^ {2}- check --server /m);
  assert.doesNotMatch(flag.stderr, /STRAIT_SERVER/);
});

test("a bad control plane URL names the setting the user used: STRAIT_SERVER or --server", async () => {
  const env = await strait(["history"], { env: { STRAIT_SERVER: "ftp://example" } });
  assert.equal(env.code, 2, show(env));
  assert.match(env.stderr, /^error: STRAIT_SERVER: must be an http:\/\/ or https:\/\/ URL, got "ftp:\/\/example"$/m);
  const flag = await strait(["--server", "not a url", "history"], { env: { STRAIT_SERVER: "http://127.0.0.1:1" } });
  assert.equal(flag.code, 2, show(flag));
  assert.match(flag.stderr, /^error: --server: not a URL: "not a url"$/m);
});

test("the CLI runs from a clone through npx strait and npm run strait, exit codes intact", async () => {
  const run = promisify(execFile);
  const npxRun = await run("npx", ["--offline", "strait", "--version"], { cwd: projectRoot });
  assert.equal(npxRun.stdout, "0.1.0\n");
  const npmRun = await run("npm", ["run", "-s", "strait", "--", "validate", "-f", "test/cli/fixtures/bookinfo/2-destination-rule.yaml"], { cwd: projectRoot });
  assert.match(npmRun.stdout, /DestinationRule default\/reviews\) is valid/);
  await assert.rejects(run("npm", ["run", "-s", "strait", "--", "get", "widgets"], { cwd: projectRoot }), (err: { code?: number; stderr?: string }) => {
    assert.equal(err.code, 2);
    assert.match(err.stderr ?? "", /unknown resource type "widgets"/);
    return true;
  });
});
