import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createServer } from "node:net";
import type { Command } from "commander";
import { buildProgram, describeError, run } from "../../src/cli/main.ts";
import { CliContext, type CliIo } from "../../src/cli/context.ts";
import { ServerError } from "../../src/cli/cli-errors.ts";
import { API_TOKEN_TTL, JOIN_TOKEN_TTL, DEFAULT_PUBLISH_WAIT_MAX_SECONDS } from "../../src/cli/limits.ts";
import { DEFAULT_API_TOKEN_TTL_SECONDS, MAX_API_TOKEN_TTL_SECONDS } from "../../src/control/api-tokens.ts";
import { DEFAULT_JOIN_TOKEN_TTL_SECONDS, MAX_JOIN_TOKEN_TTL_SECONDS } from "../../src/control/identity/join-tokens.ts";
import { publisherSettings } from "../../src/control/publishing/publisher-settings.ts";
import { editDistance, nearest } from "../../src/cli/nearest.ts";
import { projectRoot } from "../support/control-worker.ts";
import { show, strait } from "./support/run-cli.ts";

function capture(): CliIo & { stdout: string; stderr: string } {
  const io = {
    stdout: "",
    stderr: "",
    out: (t: string) => void (io.stdout += t),
    err: (t: string) => void (io.stderr += t),
    readStdin: async () => "",
    now: () => 0,
  };
  return io;
}

/** Every command path: ["apply"], ["token", "create"], ... */
function commandPaths(cmd: Command, prefix: string[] = []): string[][] {
  return cmd.commands.flatMap((c) => [[...prefix, c.name()], ...commandPaths(c, [...prefix, c.name()])]);
}

async function helpOf(path: readonly string[]): Promise<string> {
  const io = capture();
  const code = await run(["node", "strait", ...path, "--help"], io);
  assert.equal(code, 0, `${path.join(" ")} --help: ${io.stderr}`);
  return io.stdout;
}

const allPaths = [[], ...commandPaths(buildProgram(new CliContext(capture())))];

test("every path named in any command's --help exists in the repository", async () => {
  const named = new Set<string>();
  for (const path of allPaths) {
    for (const raw of (await helpOf(path)).split(/\s+/)) {
      const token = raw.replace(/^['"(]+|['",.)]+$/g, "");
      if (token.startsWith("-") || token.includes("://") || token.includes("<")) continue;
      if (/\.(ya?ml|json|pem|crt|key)$/.test(token) || (token.endsWith("/") && token.length > 1)) named.add(`${path.join(" ") || "strait"}: ${token}`);
    }
  }
  assert.ok(named.size >= 5, `found the example paths: ${[...named].join(", ")}`);
  for (const entry of named) {
    const file = entry.slice(entry.indexOf(": ") + 2);
    assert.ok(existsSync(join(projectRoot, file)), `${entry} does not exist`);
  }
});

test("limits appear in --help: token and join-token lifetimes (default, min, max), the publish wait cap", async () => {
  assert.match(await helpOf(["token", "create"]), /--ttl <duration>\s+lifetime, e\.g\. 1h, 24h, 7d \(default 30d, min 1m,\s+max\s+365d\)/);
  assert.match(await helpOf(["join-token", "create"]), /--ttl <duration>\s+how long the token stays usable, e\.g\. 10m \(max 1d\)\s+\(default: "10m"\)/);
  assert.match((await helpOf(["apply"])).replace(/\s+/g, " "), /--wait \[duration\] .*default 30s; the server caps it at PUBLISH_WAIT_MAX_SECONDS, 120s unless its admin changed it/);
});

test("the limits the CLI states are the control plane's own", () => {
  assert.equal(API_TOKEN_TTL.defaultSeconds, DEFAULT_API_TOKEN_TTL_SECONDS);
  assert.equal(API_TOKEN_TTL.maxSeconds, MAX_API_TOKEN_TTL_SECONDS);
  assert.equal(JOIN_TOKEN_TTL.defaultSeconds, DEFAULT_JOIN_TOKEN_TTL_SECONDS);
  assert.equal(JOIN_TOKEN_TTL.maxSeconds, MAX_JOIN_TOKEN_TTL_SECONDS);
  assert.equal(DEFAULT_PUBLISH_WAIT_MAX_SECONDS, publisherSettings({} as Parameters<typeof publisherSettings>[0]).maxPublishWaitSeconds);
});

test("out-of-range lifetimes are refused before sending, naming the flag and the limit (exit 2)", async () => {
  const cases: [string[], RegExp][] = [
    [["token", "create", "--subject", "ci", "-n", "default", "--access", "read", "--ttl", "400d"], /^error: --ttl: must be between 1m and 365d, got "400d"$/m],
    [["join-token", "create", "--cluster", "c1", "--node", "n1", "--ttl", "2d"], /^error: --ttl: must be between 1s and 1d, got "2d"$/m],
  ];
  for (const [args, message] of cases) {
    const r = await strait(["--server", "http://127.0.0.1:9", ...args]);
    assert.equal(r.code, 2, show(r));
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /ttlSeconds/);
  }
});

test("server errors name the flag the user typed, not the request body field", () => {
  const ctx = new CliContext(capture());
  ctx.flagsForFields({ ttlSeconds: "--ttl", namespaces: "-n/--namespace" });
  const text = describeError(
    new ServerError(400, { code: "ERR_VALIDATION", message: "ttlSeconds: must be at most 31536000", field: "ttlSeconds", details: [{ path: "namespaces[1]", message: "must be a namespace name" }] }),
    ctx,
  );
  assert.equal(text, "error: --ttl: must be at most 31536000 (ERR_VALIDATION)\n  - -n/--namespace: must be a namespace name\n");
});

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === "object");
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return address.port;
}

test("get understands kubectl's kind.group, plural, singular and short forms, and suggests the nearest kind for a typo", async () => {
  const port = await closedPort();
  // A spelling that resolves gets as far as the network (exit 3); an unknown one is a usage error (exit 2).
  for (const kind of ["virtualservices.networking.istio.io", "virtualservice.networking.istio.io", "vs", "VirtualService", "virtualservice", "virtualservices", "virtualservices.v1beta1.networking.istio.io", "authorizationpolicies.security.istio.io", "AuthorizationPolicy.security.istio.io"]) {
    const io = capture();
    const code = await run(["node", "strait", "--server", `http://127.0.0.1:${port}`, "get", kind], io);
    assert.equal(code, 3, `${kind}: ${io.stderr}`);
  }
  const typo = capture();
  assert.equal(await run(["node", "strait", "get", "virtualservce"], typo), 2);
  assert.match(typo.stderr, /^error: KIND: unknown resource type "virtualservce"; did you mean "virtualservice"\?$/m);
  const plural = capture();
  assert.equal(await run(["node", "strait", "get", "destinationrule"], plural), 3);
  const wrongGroup = capture();
  assert.equal(await run(["node", "strait", "get", "destinationrules.security.istio.io"], wrongGroup), 2);
  assert.match(wrongGroup.stderr, /DestinationRule is in API group networking\.istio\.io; did you mean "destinationrules\.networking\.istio\.io"\?/);
  const qualifiedTypo = capture();
  assert.equal(await run(["node", "strait", "delete", "gatways.networking.istio.io", "x"], qualifiedTypo), 2);
  assert.match(qualifiedTypo.stderr, /did you mean "gateways\.networking\.istio\.io"\?/);
  assert.equal(editDistance("kitten", "sitting"), 3);
  assert.equal(nearest("widgets", ["gateway", "vs"]), undefined, "no far-fetched suggestion");
});

test("every failure is reported in one style: a line starting with 'error: '", async () => {
  const port = await closedPort();
  const cases: string[][] = [
    ["frobnicate"],
    ["get", "vs", "--bogus"],
    ["get", "widgets"],
    ["rollback", "abc"],
    ["validate", "-f", "test/cli/fixtures/does-not-exist.yaml"],
    ["--server", `http://127.0.0.1:${port}`, "get", "vs"],
    ["--server", "ftp://x", "get", "vs"],
    ["svid", "inspect", "-"],
    ["delete", "vs"],
  ];
  for (const args of cases) {
    const io = capture();
    const code = await run(["node", "strait", ...args], io);
    assert.notEqual(code, 0, args.join(" "));
    assert.match(io.stderr, /^error: /, `${args.join(" ")}: ${io.stderr}`);
    assert.doesNotMatch(io.stderr, /^(Error|ERROR)\b/m, `${args.join(" ")}: ${io.stderr}`);
  }
});
