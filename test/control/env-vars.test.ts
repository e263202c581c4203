// The control worker's own numeric vars are validated like the identity settings: unset or empty
// is the default, anything else must be in range or it is a 503-category UnavailableError naming
// the var (never a silent default).
import { test } from "node:test";
import assert from "node:assert/strict";
import { UnavailableError } from "../../src/core/errors.ts";
import { parseNumberVar } from "../../src/core/env-vars.ts";
import type { ControlEnv } from "../../src/control/env.ts";
import { publisherSettings } from "../../src/control/publishing/publisher-settings.ts";
import { defaultQuota } from "../../src/control/config/namespace-quotas.ts";
import { AUDIT_RETENTION_VARS } from "../../src/control/audit.ts";

const env = (vars: Partial<Record<keyof ControlEnv, string>>): ControlEnv => vars as unknown as ControlEnv;

function naming(name: string, got: string) {
  return (e: unknown) => {
    assert.ok(e instanceof UnavailableError, String(e));
    assert.equal(e.field, name);
    assert.ok(e.message.startsWith(`${name}: must be `), e.message);
    assert.ok(e.message.endsWith(`got ${JSON.stringify(got)}`), e.message);
    return true;
  };
}

test("publisher settings: unset and empty take the defaults", () => {
  for (const e of [env({}), env({ SNAPSHOT_MAX_BLOB_BYTES: "", SNAPSHOT_BLOB_RETENTION_SECONDS: "", SNAPSHOT_BLOB_SWEEP_INTERVAL_SECONDS: "", SNAPSHOT_LONGPOLL_MAX_SECONDS: "", SNAPSHOT_LONGPOLL_MAX_PER_CREDENTIAL: "", PUBLISH_WAIT_MAX_SECONDS: "" })]) {
    const s = publisherSettings(e);
    assert.deepEqual(
      { maxBlobBytes: s.maxBlobBytes, blobRetentionSeconds: s.blobRetentionSeconds, blobSweepIntervalSeconds: s.blobSweepIntervalSeconds, maxWaitSeconds: s.maxWaitSeconds, maxWaitsPerCredential: s.maxWaitsPerCredential, maxPublishWaitSeconds: s.maxPublishWaitSeconds },
      { maxBlobBytes: 20 * 1024 * 1024, blobRetentionSeconds: 600, blobSweepIntervalSeconds: 21_600, maxWaitSeconds: 60, maxWaitsPerCredential: 4, maxPublishWaitSeconds: 120 },
    );
  }
});

test("publisher settings: valid values, bounds included", () => {
  const s = publisherSettings(
    env({ SNAPSHOT_MAX_BLOB_BYTES: "26214400", SNAPSHOT_BLOB_RETENTION_SECONDS: "1", SNAPSHOT_BLOB_SWEEP_INTERVAL_SECONDS: "3", SNAPSHOT_LONGPOLL_MAX_SECONDS: "0", SNAPSHOT_LONGPOLL_MAX_PER_CREDENTIAL: "1000", PUBLISH_WAIT_MAX_SECONDS: "2.5" }),
  );
  assert.equal(s.maxBlobBytes, 26_214_400);
  assert.equal(s.blobRetentionSeconds, 1);
  assert.equal(s.blobSweepIntervalSeconds, 3);
  assert.equal(s.maxWaitSeconds, 0);
  assert.equal(s.maxWaitsPerCredential, 1000);
  assert.equal(s.maxPublishWaitSeconds, 2.5);
  assert.equal(publisherSettings(env({ SNAPSHOT_MAX_BLOB_BYTES: "1024" })).maxBlobBytes, 1024);
});

test("publisher settings: garbage, out of range and fractions where a count is needed are refused naming the var", () => {
  const cases: [keyof ControlEnv, string, (s: ReturnType<typeof publisherSettings>) => number, RegExp][] = [
    ["SNAPSHOT_MAX_BLOB_BYTES", "20MiB", (s) => s.maxBlobBytes, /an integer from 1024 to 26214400/],
    ["SNAPSHOT_MAX_BLOB_BYTES", "1023", (s) => s.maxBlobBytes, /an integer from 1024 to 26214400/],
    ["SNAPSHOT_MAX_BLOB_BYTES", "26214401", (s) => s.maxBlobBytes, /an integer from 1024 to 26214400/],
    ["SNAPSHOT_MAX_BLOB_BYTES", "16384.5", (s) => s.maxBlobBytes, /an integer/],
    ["SNAPSHOT_BLOB_RETENTION_SECONDS", "10m", (s) => s.blobRetentionSeconds, /a number from 1 to 2592000/],
    ["SNAPSHOT_BLOB_RETENTION_SECONDS", "0", (s) => s.blobRetentionSeconds, /a number from 1 to 2592000/],
    ["SNAPSHOT_BLOB_RETENTION_SECONDS", "2592001", (s) => s.blobRetentionSeconds, /a number from 1 to 2592000/],
    ["SNAPSHOT_BLOB_SWEEP_INTERVAL_SECONDS", "6h", (s) => s.blobSweepIntervalSeconds, /a number from 1 to 604800/],
    ["SNAPSHOT_BLOB_SWEEP_INTERVAL_SECONDS", "604801", (s) => s.blobSweepIntervalSeconds, /a number from 1 to 604800/],
    ["SNAPSHOT_LONGPOLL_MAX_SECONDS", "-1", (s) => s.maxWaitSeconds, /a number from 0 to 3600/],
    ["SNAPSHOT_LONGPOLL_MAX_SECONDS", "3601", (s) => s.maxWaitSeconds, /a number from 0 to 3600/],
    ["SNAPSHOT_LONGPOLL_MAX_PER_CREDENTIAL", "four", (s) => s.maxWaitsPerCredential, /an integer from 1 to 1000/],
    ["SNAPSHOT_LONGPOLL_MAX_PER_CREDENTIAL", "0", (s) => s.maxWaitsPerCredential, /an integer from 1 to 1000/],
    ["SNAPSHOT_LONGPOLL_MAX_PER_CREDENTIAL", "2.5", (s) => s.maxWaitsPerCredential, /an integer from 1 to 1000/],
    ["PUBLISH_WAIT_MAX_SECONDS", "2m", (s) => s.maxPublishWaitSeconds, /a number from 0 to 3600/],
    ["PUBLISH_WAIT_MAX_SECONDS", "99999", (s) => s.maxPublishWaitSeconds, /a number from 0 to 3600/],
  ];
  for (const [name, raw, read, rule] of cases) {
    const s = publisherSettings(env({ [name]: raw }));
    assert.throws(() => read(s), (e: unknown) => naming(name, raw)(e) && rule.test((e as Error).message), `${name}=${raw}`);
  }
});

test("publisher settings: a bad var fails only the field that reads it", () => {
  const s = publisherSettings(env({ PUBLISH_WAIT_MAX_SECONDS: "2m" }));
  assert.equal(s.maxWaitSeconds, 60);
  assert.equal(s.blobRetentionSeconds, 600);
  assert.throws(() => s.maxPublishWaitSeconds, naming("PUBLISH_WAIT_MAX_SECONDS", "2m"));
});

test("namespace quota defaults: unset, empty, valid, and refused values", () => {
  assert.deepEqual(defaultQuota(env({})), { maxResources: 5000, maxBytes: 8 * 1024 * 1024 });
  assert.deepEqual(defaultQuota(env({ NAMESPACE_MAX_RESOURCES: "", NAMESPACE_MAX_BYTES: " " })), { maxResources: 5000, maxBytes: 8 * 1024 * 1024 });
  assert.deepEqual(defaultQuota(env({ NAMESPACE_MAX_RESOURCES: "1", NAMESPACE_MAX_BYTES: "1000000000" })), { maxResources: 1, maxBytes: 1_000_000_000 });
  for (const [name, raw] of [
    ["NAMESPACE_MAX_RESOURCES", "5k"],
    ["NAMESPACE_MAX_RESOURCES", "0"],
    ["NAMESPACE_MAX_RESOURCES", "-5"],
    ["NAMESPACE_MAX_RESOURCES", "10.5"],
    ["NAMESPACE_MAX_RESOURCES", "99999999999999999"],
    ["NAMESPACE_MAX_BYTES", "8MiB"],
    ["NAMESPACE_MAX_BYTES", "0"],
    ["NAMESPACE_MAX_BYTES", "1e6"],
  ] as const) {
    assert.throws(() => defaultQuota(env({ [name]: raw })), (e: unknown) => naming(name, raw)(e) && /an integer from 1 to 9007199254740991/.test((e as Error).message), `${name}=${raw}`);
  }
});

test("audit retention vars: whole days from 1 to 3650, default 90 and 14", () => {
  const events = AUDIT_RETENTION_VARS.AUDIT_RETENTION_DAYS;
  const refusals = AUDIT_RETENTION_VARS.AUDIT_REFUSAL_RETENTION_DAYS;
  assert.deepEqual(parseNumberVar(undefined, events), { ok: true, value: 90 });
  assert.deepEqual(parseNumberVar("", refusals), { ok: true, value: 14 });
  assert.deepEqual(parseNumberVar("3650", events), { ok: true, value: 3650 });
  assert.deepEqual(parseNumberVar("1", refusals), { ok: true, value: 1 });
  for (const bad of ["90d", "0", "3651", "1.5", "-7"]) {
    assert.deepEqual(parseNumberVar(bad, events), { ok: false, why: `must be an integer from 1 to 3650, got ${JSON.stringify(bad)}` }, bad);
  }
});
