// strait-proxy settings: flags over environment, defaults, and every bad value refused with the flag named.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseListenAddress, parseSettings, SettingsError, usage } from "../../src/node-proxy/settings.ts";

const base = ["--control-url", "https://control.example.com", "--cluster", "c1", "--node", "node-a"];

describe("strait-proxy settings", () => {
  test("defaults: Istio's ports, loopback for outbound and admin, join token from the flag", () => {
    const { settings, logLevel } = parseSettings([...base, "--join-token", "tok"], {});
    assert.equal(settings.controlUrl.href, "https://control.example.com/");
    assert.deepEqual(settings.attestation, { kind: "join-token", token: "tok" });
    assert.deepEqual(settings.listen, {
      outbound: { host: "127.0.0.1", port: 15001 },
      inboundPlaintext: { host: "0.0.0.0", port: 15006 },
      hbone: { host: "0.0.0.0", port: 15008 },
      edgeIngress: { host: "0.0.0.0", port: 15443 },
      admin: { host: "127.0.0.1", port: 15000 },
      metrics: { host: "0.0.0.0", port: 15020 },
    });
    assert.equal(settings.stateDir, "/var/lib/strait-proxy");
    assert.equal(settings.longPollSeconds, 30);
    assert.equal(settings.hbonePeerPort, 15008);
    assert.equal(logLevel, "info");
  });

  test("environment fills what flags do not give; a flag wins over its variable", () => {
    const env = { STRAIT_CONTROL_URL: "http://127.0.0.1:8787", STRAIT_CLUSTER: "env-c", STRAIT_NODE: "env-n", STRAIT_HBONE_ADDR: "[::1]:0", STRAIT_ADMIN_ADDR: ":15999", STRAIT_K8S_TOKEN_PATH: "/var/run/tok" };
    const { settings } = parseSettings(["--cluster", "flag-c"], env);
    assert.equal(settings.cluster, "flag-c");
    assert.equal(settings.node, "env-n");
    assert.deepEqual(settings.listen.hbone, { host: "::1", port: 0 });
    assert.deepEqual(settings.listen.admin, { host: "0.0.0.0", port: 15999 });
    assert.deepEqual(settings.attestation, { kind: "k8s-psat", tokenPath: "/var/run/tok", cluster: "flag-c" });
  });

  test("join token from a file (kept out of the process list)", () => {
    const { settings } = parseSettings([...base, "--join-token-file", "/secret"], {}, (p) => (p === "/secret" ? "abc\n" : ""));
    assert.deepEqual(settings.attestation, { kind: "join-token", token: "abc" });
  });

  const bad: [string[], string][] = [
    [["--cluster", "c1", "--node", "a"], "control-url"],
    [["--control-url", "ftp://x", "--cluster", "c1", "--node", "a"], "control-url"],
    [["--control-url", "not a url", "--cluster", "c1", "--node", "a"], "control-url"],
    [["--control-url", "http://x", "--node", "a"], "cluster"],
    [["--control-url", "http://x", "--cluster", "bad/name", "--node", "a"], "cluster"],
    [[...base, "--hbone-addr", "127.0.0.1"], "hbone-addr"],
    [[...base, "--admin-addr", "127.0.0.1:99999"], "admin-addr"],
    [[...base, "--metrics-addr", "http://127.0.0.1:1/x"], "metrics-addr"],
    [[...base, "--long-poll-seconds=-1"], "long-poll-seconds"],
    [[...base, "--long-poll-seconds", "3.5"], "long-poll-seconds"],
    [[...base, "--hbone-peer-port", "0"], "hbone-peer-port"],
    [[...base, "--log-level", "loud"], "log-level"],
    [[...base, "--join-token", "t", "--k8s-token-path", "/p"], "join-token"],
  ];
  for (const [argv, field] of bad) {
    test(`refused: ${argv.slice(-2).join(" ")} (names --${field})`, () => {
      assert.throws(() => parseSettings(argv, {}), (err: unknown) => err instanceof SettingsError && err.field === field && err.message.includes(`--${field}`));
    });
  }

  test("an unknown flag or a positional argument is refused", () => {
    assert.throws(() => parseSettings([...base, "--nope", "x"], {}), SettingsError);
    assert.throws(() => parseSettings([...base, "extra"], {}), SettingsError);
  });

  test("listen addresses: host:port, [v6]:port, :port", () => {
    assert.deepEqual(parseListenAddress("10.1.2.3:15008", "x"), { host: "10.1.2.3", port: 15008 });
    assert.deepEqual(parseListenAddress("[fd00::1]:0", "x"), { host: "fd00::1", port: 0 });
    assert.deepEqual(parseListenAddress(":15020", "x"), { host: "0.0.0.0", port: 15020 });
  });

  test("--help lists every flag with its variable", () => {
    const text = usage();
    for (const f of ["--control-url", "STRAIT_CONTROL_URL", "--hbone-addr", "--state-dir", "--k8s-token-path"]) assert.ok(text.includes(f), f);
  });
});
