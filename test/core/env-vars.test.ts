// Operator vars: unset or empty means the default; anything else is valid or a 503-category
// UnavailableError naming the var (`NAME: must be ..., got "..."`), never a silent default.
import { test } from "node:test";
import assert from "node:assert/strict";
import { UnavailableError } from "../../src/core/errors.ts";
import { enumVar, misconfigured, numberVar, parseEnumVar, parseNumberVar, type NumberVarSpec } from "../../src/core/env-vars.ts";

const count: NumberVarSpec = { name: "SOME_COUNT", fallback: 4, min: 1, max: 1000, integer: true };
const seconds: NumberVarSpec = { name: "SOME_SECONDS", fallback: 60, min: 0, max: 3600 };

function naming(name: string, rule: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof UnavailableError, String(e));
    assert.equal(e.category, "unavailable");
    assert.equal(e.code, "ERR_UNAVAILABLE");
    assert.equal(e.field, name);
    assert.match(e.message, rule);
    return true;
  };
}

test("misconfigured: an UnavailableError whose field is the var and whose message starts with it", () => {
  const e = misconfigured("X_VAR", "must be good");
  assert.ok(e instanceof UnavailableError);
  assert.equal(e.message, "X_VAR: must be good");
  assert.deepEqual(e.toJSON(), { code: "ERR_UNAVAILABLE", message: "X_VAR: must be good", field: "X_VAR" });
});

test("numberVar: unset and empty (or blank) take the default", () => {
  assert.equal(numberVar(undefined, count), 4);
  assert.equal(numberVar("", count), 4);
  assert.equal(numberVar("   ", count), 4);
  assert.equal(numberVar(undefined, seconds), 60);
});

test("numberVar: valid values, bounds included, surrounding blanks tolerated", () => {
  assert.equal(numberVar("1", count), 1);
  assert.equal(numberVar("1000", count), 1000);
  assert.equal(numberVar(" 12 ", count), 12);
  assert.equal(numberVar("0", seconds), 0);
  assert.equal(numberVar("2.5", seconds), 2.5);
  assert.equal(numberVar("3600", seconds), 3600);
});

test("numberVar: garbage is refused naming the var, the rule and the value", () => {
  for (const bad of ["10m", "abc", "1h", "-", "0x10", "1e3", "Infinity", "NaN", "+5", "5,000", "1 2"]) {
    assert.throws(
      () => numberVar(bad, seconds),
      (e: unknown) => naming("SOME_SECONDS", /^SOME_SECONDS: /)(e) && (e as Error).message === `SOME_SECONDS: must be a number from 0 to 3600, got ${JSON.stringify(bad)}`,
      bad,
    );
  }
  assert.throws(() => numberVar("10m", seconds), naming("SOME_SECONDS", /^SOME_SECONDS: must be a number from 0 to 3600, got "10m"$/));
});

test("numberVar: below the minimum and above the maximum are refused", () => {
  assert.throws(() => numberVar("0", count), naming("SOME_COUNT", /must be an integer from 1 to 1000, got "0"/));
  assert.throws(() => numberVar("-1", seconds), naming("SOME_SECONDS", /from 0 to 3600, got "-1"/));
  assert.throws(() => numberVar("1001", count), naming("SOME_COUNT", /got "1001"/));
  assert.throws(() => numberVar("3600.5", seconds), naming("SOME_SECONDS", /got "3600.5"/));
});

test("numberVar: a fraction where an integer is needed is refused", () => {
  assert.throws(() => numberVar("2.5", count), naming("SOME_COUNT", /must be an integer from 1 to 1000, got "2.5"/));
  assert.throws(() => numberVar("4.0", count), naming("SOME_COUNT", /got "4.0"/));
});

test("numberVar: a long value is quoted shortened", () => {
  const long = "x".repeat(500);
  assert.throws(() => numberVar(long, count), (e: unknown) => e instanceof UnavailableError && e.message.length < 150 && e.message.endsWith('..."'));
});

test("parseNumberVar does not throw: the value, or why not", () => {
  assert.deepEqual(parseNumberVar("7", count), { ok: true, value: 7 });
  assert.deepEqual(parseNumberVar("", count), { ok: true, value: 4 });
  assert.deepEqual(parseNumberVar("seven", count), { ok: false, why: 'must be an integer from 1 to 1000, got "seven"' });
});

test("enumVar: default when unset or empty, one of the allowed values, else refused naming the var", () => {
  const spec = { name: "SOME_SWITCH", fallback: "on", allowed: ["on", "off"] } as const;
  assert.equal(enumVar(undefined, spec), "on");
  assert.equal(enumVar("", spec), "on");
  assert.equal(enumVar("off", spec), "off");
  assert.equal(enumVar(" off ", spec), "off");
  for (const bad of ["Off", "false", "0", "of"]) assert.throws(() => enumVar(bad, spec), naming("SOME_SWITCH", new RegExp(`^SOME_SWITCH: must be one of on, off, got "${bad}"$`)), bad);
  assert.deepEqual(parseEnumVar("no", spec), { ok: false, why: 'must be one of on, off, got "no"' });
});
