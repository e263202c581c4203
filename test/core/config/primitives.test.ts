import { test } from "node:test";
import assert from "node:assert/strict";
import { parseDurationMs } from "../../../src/core/config/duration.ts";
import { compileRe2, re2Problem } from "../../../src/core/config/regex.ts";

test("durations: protobuf and Go forms", () => {
  const table: [string, number | undefined][] = [
    ["1.5s", 1500],
    ["100ms", 100],
    ["0.5s", 500],
    ["3m", 180_000],
    ["1h", 3_600_000],
    ["1m30s", 90_000],
    ["1000us", 1],
    ["7s", 7000],
    ["", undefined],
    ["1", undefined],
    ["s", undefined],
    ["1d", undefined],
    ["-1s", undefined],
    ["1.5 s", undefined],
  ];
  for (const [text, want] of table) assert.equal(parseDurationMs(text), want, JSON.stringify(text));
});

test("RE2 regexes: whole-value match, RE2 syntax, RE2-only features", () => {
  assert.equal(compileRe2("v[0-9]+").test("v12"), true);
  assert.equal(compileRe2("v[0-9]+").test("xv12"), false, "anchored on both ends");
  assert.equal(compileRe2("a|b").test("ab"), false, "alternation is grouped before anchoring");
  assert.equal(compileRe2("(?i)jason").test("JASON"), true);
  assert.equal(compileRe2("(?P<v>v[0-9])").test("v1"), true);
  assert.equal(re2Problem("^/api/v[0-9]+/.*$"), undefined);
  assert.match(re2Problem("(?=a)a") ?? "", /lookaround/);
  assert.match(re2Problem("(?<!a)b") ?? "", /lookaround/);
  assert.match(re2Problem("(a)\\1") ?? "", /backreferences/);
  assert.match(re2Problem("(?>a)") ?? "", /atomic/);
  assert.match(re2Problem("a++") ?? "", /possessive/);
  assert.match(re2Problem("(") ?? "", /invalid regex/);
  // Escaped syntax is literal text, not the RE2-only feature it resembles.
  assert.equal(re2Problem("a\\\\1"), undefined, "an escaped backslash then a digit is literal");
  assert.match(re2Problem("(a)\\\\\\1") ?? "", /backreferences/, "an escaped backslash then a backreference");
  assert.equal(re2Problem("\\(?=x"), undefined, "an escaped parenthesis, optional, then `=x`");
  assert.equal(re2Problem("\\++"), undefined, "one or more literal plus signs");
  assert.ok(compileRe2("a\\\\1").test("a\\1"));
  assert.match(re2Problem("a".repeat(1025)) ?? "", /1024/);
  assert.equal(re2Problem("a".repeat(1024)), undefined);
});
